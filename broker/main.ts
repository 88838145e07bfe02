// `npm start`: one broker node from flags and FLEETBIND_* variables; stops cleanly on SIGINT/SIGTERM.
import { helpText, wantsHelp } from '../host-tools/cli/args';
import { BROKER_CLI, parseOptions } from './config';
import { startBroker } from './server';

let options;
try {
  if (wantsHelp(process.argv.slice(2))) {
    process.stdout.write(`${helpText(BROKER_CLI)}\n`);
    process.exit(0);
  }
  options = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`fleetbind: ${(err as Error).message}\n`);
  process.exit(2);
}

const broker = await startBroker(options);
if (broker.firstAdmin && !options.quiet) {
  // Shown once, on the terminal only; the log never carries it.
  process.stderr.write(
    `\nFirst run: created the admin login\n  username: ${broker.firstAdmin.username}\n  password: ${broker.firstAdmin.password}\n` +
      `It is also in ${broker.firstAdmin.file} (mode 600). Log in with POST /api/login {"id":"admin:admin","password":...}.\n\n`,
  );
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`fleetbind: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  });
}
