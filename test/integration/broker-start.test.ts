// What `npm start` says when it cannot start, and what it says when it can. Each start mistake
// is made for real: the port is held by a listening socket, the data dir and TLS key are not
// writable/readable by the broker's user (as root, the broker runs as nobody so permissions bite).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerProcess } from '../helpers/broker-process';

const t = suite('broker start');
const root = join(import.meta.dirname, '..', '..');
const asRoot = process.getuid?.() === 0;
/** Permissions do not stop root; the broker then runs as nobody, like a service user. */
const NOBODY = 65534;

let dir: string;
t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-start-'));
  chmodSync(dir, 0o755);
});
t.after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBroker(args: string[], opts: { unprivileged?: boolean } = {}): Promise<Run> {
  const ids = opts.unprivileged && asRoot ? { uid: NOBODY, gid: NOBODY } : {};
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts', '--host', '127.0.0.1', ...args], {
    cwd: root,
    env: { ...process.env, FLEETBIND_LOG_LEVEL: 'warn', FLEETBIND_ADMIN_TOKEN: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...ids,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the broker did not exit within 60 s; stderr:\n${stderr}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function hold(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

/** One line on stderr, exit 1, and no stack trace anywhere. */
function oneLine(r: Run, pattern: RegExp): void {
  assert.is(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
  assert.not.match(r.stderr + r.stdout, /\n\s+at /, `a stack trace:\n${r.stderr}`);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

function writableDataDir(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  chmodSync(d, 0o777);
  return d;
}

t('an MQTT port in use: which port, the likely cause, the flag, exit 1', async () => {
  const { server, port } = await hold();
  try {
    const r = await runBroker(['--data-dir', join(dir, 'mqtt-busy'), '--mqtt-port', String(port), '--http-port', '0']);
    oneLine(
      r,
      new RegExp(
        `^fleetbind: the MQTT port ${port} on 127\\.0\\.0\\.1 is already in use, probably by Mosquitto or another broker .*choose another port with --mqtt-port\\n$`,
      ),
    );
  } finally {
    server.close();
  }
});

t('an HTTP port in use names --http-port', async () => {
  const { server, port } = await hold();
  try {
    const r = await runBroker(['--data-dir', join(dir, 'http-busy'), '--mqtt-port', '0', '--http-port', String(port)]);
    oneLine(r, new RegExp(`^fleetbind: the HTTP port ${port} on 127\\.0\\.0\\.1 is already in use by another program .*--http-port\\n$`));
  } finally {
    server.close();
  }
});

t('a data dir the broker may not write names the dir and --data-dir, and creates nothing', async () => {
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o555);
  const r = await runBroker(['--data-dir', join(locked, 'data'), '--mqtt-port', '0', '--http-port', '0'], { unprivileged: true });
  oneLine(r, new RegExp(`^fleetbind: cannot write the data directory ${join(locked, 'data')} \\(EACCES: no permission to write there\\); .*--data-dir\\n$`));
});

t('an unreadable TLS key, a missing certificate, and a pair that is not PEM each name the file and flag', async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, 'not a certificate\n');
  writeFileSync(key, 'not a key\n', { mode: 0o600 });
  chmodSync(cert, 0o644);
  chmodSync(key, 0o000);
  const base = ['--mqtt-port', '0', '--http-port', '0', '--mqtts-port', '0'];
  const unreadable = await runBroker(['--data-dir', writableDataDir('tls-1'), ...base, '--tls-cert', cert, '--tls-key', key], { unprivileged: true });
  oneLine(unreadable, new RegExp(`^fleetbind: cannot read the TLS key ${key} \\(permission denied: the broker's user may not read it\\); .*--tls-key\\n$`));
  const missing = await runBroker(['--data-dir', writableDataDir('tls-2'), ...base, '--tls-cert', join(dir, 'nope.pem'), '--tls-key', key]);
  oneLine(missing, /^fleetbind: cannot read the TLS certificate .*nope\.pem \(no such file\); .*--tls-cert\n$/);
  chmodSync(key, 0o644);
  const garbage = await runBroker(['--data-dir', writableDataDir('tls-3'), ...base, '--tls-cert', cert, '--tls-key', key]);
  oneLine(garbage, /^fleetbind: the TLS certificate .*cert\.pem and key .*key\.pem are not a usable PEM pair \(.*\); check --tls-cert and --tls-key\n$/);
});

t('every start shows the web app and MQTT addresses; the first-admin banner stays until an admin logs in', async () => {
  const data = join(dir, 'banner');
  const token = 'start-test-admin-token-0123456789';
  const first = await BrokerProcess.start(data, token);
  await first.stop();
  assert.match(first.stderr, /fleetbind is running/);
  assert.match(first.stderr, /web app +http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(first.stderr, /MQTT +mqtt:\/\/127\.0\.0\.1:\d+/);
  assert.match(first.stderr, /First run: created the admin login\n {2}username: admin:admin\n {2}password: \S+/);
  const password = /password: (\S+)/.exec(readFileSync(join(data, 'initial-admin.txt'), 'utf8'))![1]!;
  assert.ok(first.stderr.includes(password));
  assert.not.ok(first.stdout.includes(password), 'the password reached the log');

  const second = await BrokerProcess.start(data, token);
  try {
    assert.match(second.stderr, new RegExp(`No admin has logged in yet: .*in ${join(data, 'initial-admin.txt').replace(/[.]/g, '\\.')}`));
    assert.not.ok(second.stderr.includes(password), 'later starts point at the file, not the password');
    const login = await second.api('POST', '/api/login', { id: 'admin:admin', password }, undefined);
    assert.is(login.status, 200, JSON.stringify(login.body));
  } finally {
    await second.stop();
  }
  const third = await BrokerProcess.start(data, token);
  await third.stop();
  assert.match(third.stderr, /fleetbind is running/);
  assert.not.match(third.stderr, /No admin has logged in yet|First run/);
});

t('a loopback public URL is warned about at start, with the flag and a LAN address to use', async () => {
  const data = join(dir, 'public-url');
  const token = 'start-test-admin-token-0123456789';
  const local = await BrokerProcess.start(data, token, ['--public-url', 'http://localhost:8080']);
  await local.stop();
  assert.match(
    local.stderr,
    /warning: phones cannot open the public URL http:\/\/localhost:8080: localhost is this machine's loopback address\.\n {2}Labels and claim links would point there\. Restart with --public-url http:\/\/\S+ \(or set FLEETBIND_PUBLIC_URL\)\./,
  );
  assert.ok(
    local.logLines().some((l) => l.level === 40 && String(l.msg).includes('which a phone cannot open')),
    'no warning in the log',
  );
  const lan = await BrokerProcess.start(data, token, ['--public-url', 'http://192.0.2.10:8080']);
  await lan.stop();
  assert.match(lan.stderr, /public URL +http:\/\/192\.0\.2\.10:8080/);
  assert.not.match(lan.stderr, /warning: phones cannot open/);
});

t.run();
