// What `npm start` tells the person at the terminal once the broker listens: where the web app
// and MQTT are (on this machine and on the LAN), whether the public URL works from a phone, and
// where the first-run admin login is until an admin has used it. It goes to stderr, never to the log.
import { lanAddresses, suggestedPublicUrl } from '../host-tools/cli/public-url';
import type { BrokerOptions } from './config';
import type { RunningBroker } from './server';

function hostsFor(bind: string): string[] {
  if (bind === '0.0.0.0' || bind === '::') return ['localhost', ...lanAddresses()];
  return [bind.includes(':') ? `[${bind}]` : bind];
}

export function startupBanner(b: RunningBroker, opts: BrokerOptions): string {
  const scheme = b.httpUrl.startsWith('https') ? 'https' : 'http';
  const hosts = hostsFor(opts.host);
  const lines = ['', `fleetbind is running (data in ${opts.dataDir})`];
  lines.push(`  web app      ${hosts.map((h) => `${scheme}://${h}:${b.httpPort}/`).join('   ')}`);
  lines.push(`  MQTT         ${hosts.map((h) => `mqtt://${h}:${b.mqttPort}`).join('   ')}`);
  if (b.mqttsPort !== null) lines.push(`  MQTTS        ${hosts.map((h) => `mqtts://${h}:${b.mqttsPort}`).join('   ')}`);
  lines.push(`  WebSocket    ${scheme === 'https' ? 'wss' : 'ws'}://${hosts.at(-1)}:${b.httpPort}/mqtt`);
  lines.push(`  public URL   ${opts.publicUrl}   (on labels and claim links)`);
  if (b.publicUrlProblem) {
    lines.push(
      '',
      `warning: phones cannot open the public URL ${opts.publicUrl}: ${b.publicUrlProblem}.`,
      `  Labels and claim links would point there. Restart with --public-url ${suggestedPublicUrl(b.httpPort, scheme)} (or set FLEETBIND_PUBLIC_URL).`,
    );
  }
  if (b.firstAdmin) {
    lines.push(
      '',
      'First run: created the admin login',
      `  username: ${b.firstAdmin.username}`,
      `  password: ${b.firstAdmin.password}`,
      `It is also in ${b.firstAdmin.file} (mode 600). Log in at ${scheme}://${hosts.at(-1)}:${b.httpPort}/ or with POST /api/login {"id":"admin:admin","password":...}.`,
    );
  } else if (b.initialAdminFile) {
    lines.push(
      '',
      `No admin has logged in yet: the first admin login (admin:admin) and its password are in ${b.initialAdminFile}.`,
      'This reminder stops after the first admin login.',
    );
  }
  return `${lines.join('\n')}\n\n`;
}
