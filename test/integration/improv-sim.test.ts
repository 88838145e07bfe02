// Improv Wi-Fi over serial end to end: `npm run simulate` runs a device that was flashed without a
// Wi-Fi network (it waits, unprovisioned) and answers Improv on a socat pty, as the firmware does
// on its console UART; its radio can join only the access point "lab" with one passphrase.
// `npm run flash -- improv` on the other end of the pty gives it the network: a wrong passphrase is
// reported as such, the right one gets it on Wi-Fi, and it then enrolls with the broker.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { startPtyPair, exited, type PtyPair } from '../emulator/pty-pair';
import { errorLines, runFlashCli } from '../flash/run-flash';
import { TestBroker } from '../helpers/broker';
import { enrollmentToken } from '../helpers/sim';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';

interface Ctx {
  dir: string;
  tb: TestBroker | null;
  pair: PtyPair | null;
  sim: ChildProcess | null;
  simOut: string;
}

const test = suite<Ctx>('Improv Wi-Fi: npm run flash -- improv and the simulated device');
const root = join(import.meta.dirname, '..', '..');

test.before(async (ctx) => {
  ctx.tb = null;
  ctx.pair = null;
  ctx.sim = null;
  ctx.simOut = '';
  requireTool('socat', 'socat');
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-improv-'));
  ctx.tb = await TestBroker.start();
  ctx.pair = await startPtyPair(ctx.dir);
  const token = await enrollmentToken(ctx.tb, 1);
  ctx.sim = spawn(
    process.execPath,
    ['--import', 'tsx', 'host-tools/simulate/cli.ts', '--devices', '1', '--broker', ctx.tb.broker.mqttUrl, '--enroll-token', token, '--machines-prefix', 'IMP-', '--improv-serial', ctx.pair.b, '--access-point', 'lab:lab-passphrase', '--log-level', 'info'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  ctx.sim.stdout!.on('data', (d) => (ctx.simOut += d));
  ctx.sim.stderr!.on('data', (d) => (ctx.simOut += d));
  await waitUntil(() => ctx.simOut.includes('not provisioned'), 60_000, `the simulated device to stop for want of Wi-Fi; it printed:\n${ctx.simOut}`);
});

test.after(async (ctx) => {
  if (ctx.sim) {
    ctx.sim.kill('SIGTERM');
    await exited(ctx.sim);
  }
  await ctx.pair?.stop();
  await ctx.tb?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

test('a wrong passphrase: the device says it could not join, and stays off the network', async (ctx) => {
  const run = await runFlashCli(['improv', '--port', ctx.pair!.a, '--wifi', 'lab', '--psk', 'not-the-passphrase', '--timeout', '60']);
  assert.is(run.code, 1, run.stderr);
  assert.equal(errorLines(run).length, 1, run.stderr);
  assert.match(errorLines(run)[0]!, /did not take the network "lab": it could not join the network/);
  const devices = await ctx.tb!.api<Array<{ machineCode: string | null }>>('GET', '/api/devices');
  assert.not.ok(devices.body.some((d) => d.machineCode === 'IMP-0001'), 'it has not enrolled');
});

test('the right passphrase: it joins, keeps the network, and enrolls with the broker', async (ctx) => {
  const run = await runFlashCli(['improv', '--port', ctx.pair!.a, '--wifi', 'lab', '--psk', 'lab-passphrase']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stderr, /\(fleetbind sim-[^ ]+ on fleetbind-sim\) joined "lab"/);
  assert.not.ok(run.stdout.includes('lab-passphrase') || run.stderr.includes('lab-passphrase'), 'the passphrase is not printed');
  const device = await waitUntil(
    async () => (await ctx.tb!.api<Array<{ id: string; machineCode: string | null }>>('GET', '/api/devices')).body.find((d) => d.machineCode === 'IMP-0001'),
    30_000,
    'the device to enroll',
  );
  assert.match(device.id, /^esp32-/);
});

test.run();
