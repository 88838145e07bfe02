// Every failure of `npm run flash` ends in one clear line and a non-zero exit, and
// leaves the device and the registry as they were: no port, port busy, chip not detected, wrong
// chip, build missing, broker unreachable. Also: the fall-back to 115200 when the link cannot do
// the fast rate is said out loud.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { startPtyPair } from '../emulator/pty-pair';
import { startRig, type EmulatorEvent } from '../emulator/rig';
import { requireTool } from '../helpers/tools';
import { makeFakeBuild, type FakeBuild } from './fake-build';
import { errorLines, runFlashCli, type FlashRun } from './run-flash';

interface Ctx {
  dir: string;
  build: FakeBuild;
}

const test = suite<Ctx>('npm run flash: failures');

test.before((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-flash-err-'));
  ctx.build = makeFakeBuild(ctx.dir);
});

test.after((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

const enroll = ['--broker', 'mqtt://fleet.example.com:1883', '--insecure', '--enroll-token', 'tok'];

function oneError(run: FlashRun, code: number, pattern: RegExp): void {
  assert.is(run.code, code, run.stderr);
  const lines = errorLines(run);
  assert.is(lines.length, 1, `exactly one error line:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
}

const wrote = (events: EmulatorEvent[]): boolean => events.some((e) => e.ev === 'command' && String(e.op).startsWith('FLASH_'));

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

test('usage mistakes exit 2 with the usage text', async (ctx) => {
  const run = await runFlashCli(['--port', '/dev/null', '--broker', 'mqtt://b:1883', '--insecure', '--build', ctx.build.dir]);
  oneError(run, 2, /say how the device gets its identity/);
  assert.match(run.stderr, /npm run flash -- --help lists the options/);
});

test('no such port', async (ctx) => {
  const run = await runFlashCli(['--port', join(ctx.dir, 'ttyUSB9'), ...enroll, '--build', ctx.build.dir]);
  oneError(run, 1, /no serial port at .*ttyUSB9; /);
});

test('port busy', async (ctx) => {
  requireTool('socat', 'socat');
  const r = await startRig();
  const holder = new SerialPort({ path: r.hostPath, baudRate: 115200, autoOpen: false });
  try {
    await new Promise<void>((res, rej) => holder.open((e) => (e ? rej(e) : res())));
    const run = await runFlashCli(['--port', r.hostPath, ...enroll, '--build', ctx.build.dir], { tap: r.tapPath });
    oneError(run, 1, /is busy: another program has it open/);
    assert.not.ok(wrote(r.events()));
  } finally {
    if (holder.isOpen) await new Promise((res) => holder.close(res));
    await r.stop();
  }
});

test('chip not detected: nothing answers on the port', async (ctx) => {
  requireTool('socat', 'socat');
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-silent-'));
  const pair = await startPtyPair(dir);
  try {
    const run = await runFlashCli(['--port', pair.a, ...enroll, '--build', ctx.build.dir]);
    oneError(run, 1, /no ESP32 answered on .*hold BOOT, press EN/);
  } finally {
    await pair.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wrong chip: an ESP32-C3 is refused before anything is uploaded to it', async (ctx) => {
  requireTool('socat', 'socat');
  const r = await startRig({ chip: 'esp32c3' });
  try {
    const run = await runFlashCli(['--port', r.hostPath, ...enroll, '--build', ctx.build.dir], { tap: r.tapPath });
    oneError(run, 1, /is an ESP32-C3; this firmware is built for the ESP32/);
    assert.not.ok(r.events().some((e) => e.ev === 'command' && (e.op === 'MEM_BEGIN' || String(e.op).startsWith('FLASH_'))));
  } finally {
    await r.stop();
  }
});

test('build missing: refused before the device is touched', async (ctx) => {
  requireTool('socat', 'socat');
  const r = await startRig();
  try {
    const run = await runFlashCli(['--port', r.hostPath, ...enroll, '--build', join(ctx.dir, 'no-build')], { tap: r.tapPath });
    oneError(run, 1, /no firmware build at .*no-build \(run npm run build:firmware, or pass --build DIR\)/);
    assert.not.ok(
      r.events().some((e) => e.ev === 'signals'),
      'the port was never opened',
    );
  } finally {
    await r.stop();
  }
});

test('broker unreachable: nothing is written to the device', async (ctx) => {
  requireTool('socat', 'socat');
  const r = await startRig();
  const port = await closedPort();
  try {
    const run = await runFlashCli(
      [
        '--port',
        r.hostPath,
        '--broker',
        'mqtt://127.0.0.1:1883',
        '--insecure',
        '--broker-api',
        `http://127.0.0.1:${port}`,
        '--admin-token',
        'x',
        '--build',
        ctx.build.dir,
      ],
      { tap: r.tapPath },
    );
    oneError(run, 1, new RegExp(`broker API at http://127.0.0.1:${port} is unreachable \\(ECONNREFUSED\\)`));
    assert.not.ok(wrote(r.events()));
  } finally {
    await r.stop();
  }
});

test('a link that cannot carry 921600 baud falls back to 115200 and says so', async (ctx) => {
  requireTool('socat', 'socat');
  const r = await startRig({ maxBaud: 115200 });
  try {
    const run = await runFlashCli(['--port', r.hostPath, ...enroll, '--build', ctx.build.dir], { tap: r.tapPath });
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stderr, /921600 baud did not work on .*; continuing at 115200 baud/);
    assert.match(run.stderr, /Writing 4 images at 115200 baud/);
  } finally {
    await r.stop();
  }
});

test.run();
