// Log lines a person can read on a terminal, JSON lines everywhere else: the broker's logs on
// stdout and flash's on stderr, run under a pseudo-terminal (util-linux `script`) and through
// pipes. Flash keeps stdout for its result, so a pipe reads nothing else there.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { BrokerProcess } from '../helpers/broker-process';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';

const root = join(import.meta.dirname, '..', '..');
const t = suite('log format');
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes being removed.
const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG)\b/;

/** Runs a command with a pseudo-terminal as its stdin, stdout and stderr; resolves with what it showed. */
function underTty(command: string, env: Record<string, string>, until: (out: string) => boolean, timeoutMs = 90_000): Promise<string> {
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return waitUntil(
    () => until(plain(out)) || undefined,
    timeoutMs,
    () => `the terminal output; saw:\n${plain(out)}`,
    100,
  )
    .then(() => plain(out))
    .finally(async () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      await closed;
    });
}

t('the broker logs one readable line a record on a terminal, and no JSON', async () => {
  requireTool('script', 'util-linux');
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-logtty-'));
  try {
    const cmd = `${process.execPath} --import tsx broker/main.ts --data-dir ${dir} --mqtt-port 0 --http-port 0 --host 127.0.0.1`;
    const out = await underTty(cmd, { FLEETBIND_ADMIN_TOKEN: 'log-format-admin-token-0123456789', FLEETBIND_LOG_LEVEL: 'info' }, (o) =>
      /INFO.*listening/.test(o),
    );
    const lines = out.split('\n');
    assert.ok(
      lines.some((l) => PRETTY_LINE.test(l) && l.includes('listening')),
      out,
    );
    assert.not.ok(
      lines.some((l) => l.trimStart().startsWith('{"level"')),
      `no JSON log line on a terminal:\n${out}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('the broker logs JSON lines to a pipe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-logpipe-'));
  const b = await BrokerProcess.start(dir, 'log-format-admin-token-0123456789');
  try {
    const logs = b.logLines();
    assert.ok(
      logs.some((l) => typeof l.level === 'number' && typeof l.time === 'number' && String(l.msg).includes('listening')),
      b.stdout,
    );
    assert.not.ok(
      b.stdout.split('\n').some((l) => PRETTY_LINE.test(l)),
      'no readable-format line in a pipe',
    );
  } finally {
    await b.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

t('flash: readable log lines on a terminal; through pipes JSON on stderr and nothing but the result on stdout', async () => {
  requireTool('script', 'util-linux');
  const args = 'host-tools/flash/cli.ts --port /dev/nonexistent-tty --machine CT1 --dry-run';
  const tty = await underTty(`${process.execPath} --import tsx ${args}`, {}, (o) => /ERROR/.test(o));
  assert.ok(
    tty.split('\n').some((l) => PRETTY_LINE.test(l) && l.includes('ERROR (flash)') && l.includes('--broker is required')),
    tty,
  );
  assert.not.ok(tty.includes('{"level"'), tty);

  const child = spawn(process.execPath, ['--import', 'tsx', ...args.split(' ')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 2);
  assert.is(stdout, '', 'a failed run has no result, and its logs are not on stdout');
  const json = stderr.split('\n').filter((l) => l.startsWith('{'));
  assert.is(json.length, 1, stderr);
  assert.equal(
    { ...JSON.parse(json[0]!), time: 0, pid: 0, hostname: '' },
    { level: 50, time: 0, pid: 0, hostname: '', name: 'flash', code: 'USAGE', msg: JSON.parse(json[0]!).msg },
  );
  assert.match(stderr, /^flash: --broker is required/m);
});

t.run();
