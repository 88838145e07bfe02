// Improv Wi-Fi over serial end to end: `npm run simulate` runs a device that was flashed without a
// Wi-Fi network (it waits, unprovisioned) and answers Improv on a socat pty, as the firmware does
// on its console UART; its radio can join only the access point "lab" with one passphrase.
// `npm run flash -- improv` on the other end of the pty gives it the network: a wrong passphrase is
// reported as such, the right one gets it on Wi-Fi, and it then enrolls with the broker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { errorLines, runFlashCli } from '../flash/run-flash';
import { TestBroker } from '../helpers/broker';
import { LAB, startImprovSim, type ImprovSim } from '../helpers/improv-sim';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';

interface Ctx {
  dir: string;
  tb: TestBroker | null;
  sim: ImprovSim | null;
}

const test = suite<Ctx>('Improv Wi-Fi: npm run flash -- improv and the simulated device');

test.before(async (ctx) => {
  ctx.tb = null;
  ctx.sim = null;
  requireTool('socat', 'socat');
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-improv-'));
  ctx.tb = await TestBroker.start();
  ctx.sim = await startImprovSim(ctx.tb, ctx.dir, 'IMP-');
});

test.after(async (ctx) => {
  await ctx.sim?.stop();
  await ctx.tb?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

test('a wrong passphrase: the device says it could not join, and stays off the network', async (ctx) => {
  const run = await runFlashCli(['improv', '--port', ctx.sim!.port, '--wifi', 'lab', '--psk', 'not-the-passphrase', '--timeout', '60']);
  assert.is(run.code, 1, run.stderr);
  assert.equal(errorLines(run).length, 1, run.stderr);
  assert.match(errorLines(run)[0]!, /did not take the network "lab": it could not join the network/);
  const devices = await ctx.tb!.api<Array<{ machineCode: string | null }>>('GET', '/api/devices');
  assert.not.ok(
    devices.body.some((d) => d.machineCode === 'IMP-0001'),
    'it has not enrolled',
  );
});

test('the right passphrase: it joins, keeps the network, and enrolls with the broker', async (ctx) => {
  const run = await runFlashCli(['improv', '--port', ctx.sim!.port, '--wifi', LAB.ssid, '--psk', LAB.psk]);
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
