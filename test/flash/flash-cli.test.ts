// `npm run flash` end to end: the real CLI, esptool-js and the Web-Serial adapter, over a socat pty
// to the ESP32 emulator, provisioning against a real broker. The emulated flash must hold exactly
// the images at the partition table's offsets, the NVS must decode to the credentials, and the
// secret in it must log the device in to the broker.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { credentialEntries, type Credentials } from '../../host-tools/nvs/credentials';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { buildNvsPartition } from '../../host-tools/nvs/writer';
import { deviceIdFromMac } from '../../protocol/ids';
import { startRig, type EmulatorEvent, type Rig } from '../emulator/rig';
import { connectDevice, TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { makeFakeBuild, type FakeBuild } from './fake-build';
import { errorLines, runFlashCli } from './run-flash';

const NVS = { offset: 0x9000, size: 0x6000 };
const APP = 0x10000;
const PSK = 'psk-that-must-not-leak';

interface Ctx {
  dir: string;
  broker: TestBroker;
  build: FakeBuild;
  rigs: Rig[];
}

const test = suite<Ctx>('npm run flash, end to end');

test.before(async (ctx) => {
  requireTool('socat', 'socat');
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-flash-'));
  ctx.broker = await TestBroker.start();
  ctx.build = makeFakeBuild(ctx.dir);
  ctx.rigs = [];
});

test.after(async (ctx) => {
  if (ctx.dir === undefined) return; // skipped: socat is missing
  for (const r of ctx.rigs) await r.stop();
  await ctx.broker.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

async function rig(ctx: Ctx, options: Parameters<typeof startRig>[0]): Promise<Rig> {
  const r = await startRig(options);
  ctx.rigs.push(r);
  return r;
}

function provisionArgs(ctx: Ctx, port: string): string[] {
  return [
    '--port',
    port,
    '--broker',
    ctx.broker.broker.mqttUrl,
    '--insecure',
    '--broker-api',
    ctx.broker.broker.httpUrl,
    '--admin-token',
    ctx.broker.adminToken,
    '--build',
    ctx.build.dir,
  ];
}

function credentialsIn(flash: Uint8Array): Record<string, unknown> {
  const entries = readNvsPartition(flash.subarray(NVS.offset, NVS.offset + NVS.size));
  return Object.fromEntries(entries.filter((e) => e.namespace === 'fb').map((e) => [e.key, e.value]));
}

/** The whole 4 MB as it must be: erased, with each image at its place and nothing anywhere else. */
function expectedFlash(build: FakeBuild, nvs: Uint8Array): Buffer {
  const out = Buffer.alloc(4 * 1024 * 1024, 0xff);
  out.set(build.bootloader, 0x1000);
  out.set(build.partitionTable, 0x8000);
  out.set(nvs, NVS.offset);
  out.set(build.app, APP);
  return out;
}

function assertSameFlash(actual: Uint8Array, expected: Buffer): void {
  const a = Buffer.from(actual);
  if (a.equals(expected)) return;
  const at = a.findIndex((b, i) => b !== expected[i]);
  assert.unreachable(
    `flash differs first at 0x${at.toString(16)}: got ${a.subarray(at, at + 8).toString('hex')}, expected ${expected.subarray(at, at + 8).toString('hex')}`,
  );
}

const ops = (events: EmulatorEvent[]) => events.filter((e) => e.ev === 'command').map((e) => e.op as string);
const resets = (events: EmulatorEvent[]) =>
  events.filter((e) => e.ev === 'reset' || e.ev === 'boot').map((e) => (e.ev === 'boot' ? `boot:${e.mode}` : 'reset'));

test('flashes, provisions and verifies a device; the flash holds exactly the images', async (ctx) => {
  const mac = '24:0a:c4:aa:00:01';
  const r = await rig(ctx, { mac });
  const run = await runFlashCli([...provisionArgs(ctx, r.hostPath), '--machine', 'ct0700026', '--wifi', 'lab-net', '--psk', PSK], { tap: r.tapPath });
  assert.is(run.code, 0, run.stderr);

  const flash = await r.flash();
  const creds = credentialsIn(flash);
  const id = deviceIdFromMac(mac);
  assert.equal(
    { ...creds, secret: typeof creds.secret },
    { ssid: 'lab-net', psk: PSK, broker: ctx.broker.broker.mqttUrl, id, secret: 'string', machine: 'CT0700026', insecure: '1' },
  );
  const expected: Credentials = {
    ssid: 'lab-net',
    psk: PSK,
    broker: ctx.broker.broker.mqttUrl,
    id,
    secret: creds.secret as string,
    machine: 'CT0700026',
    insecure: '1',
  };
  assertSameFlash(flash, expectedFlash(ctx.build, buildNvsPartition(credentialEntries(expected), NVS.size)));

  const events = r.events();
  const md5 = events.filter((e) => e.ev === 'command' && e.op === 'SPI_FLASH_MD5').map((e) => e.a);
  assert.equal(md5, [0x1000, 0x8000, NVS.offset, APP], 'every image verified by MD5');
  assert.equal(resets(events), ['reset', 'boot:download', 'reset', 'boot:spi'], 'reset into the ROM, then into the new firmware');
  assert.ok(events.some((e) => e.ev === 'boot' && e.mode === 'spi' && e.bootloader === true));

  const registered = await ctx.broker.api('GET', `/api/devices/${id}`);
  assert.is(registered.status, 200);
  assert.is(registered.body.machineCode, 'CT0700026');
  const device = await connectDevice(ctx.broker.broker.mqttUrl, { id, secret: creds.secret as string, mac: mac.replace(/:/g, '') });
  device.client.end(true);

  assert.ok(run.logs.length > 0 && run.logs.every((l) => typeof l.level === 'number' && typeof l.msg === 'string'), 'the logs on stderr are pino JSON');
  assert.equal(
    { deviceId: run.result?.deviceId, machineCode: run.result?.machineCode, provisioned: run.result?.provisioned },
    { deviceId: id, machineCode: 'CT0700026', provisioned: true },
    'stdout is the result alone',
  );
  for (const out of [run.stdout, run.stderr]) {
    assert.not.ok(out.includes(creds.secret as string), 'the device secret is never printed');
    assert.not.ok(out.includes(PSK), 'nor the Wi-Fi passphrase');
    assert.not.ok(out.includes(ctx.broker.adminToken), 'nor the admin token');
  }
  assert.match(run.stderr, /Done/);
  assert.match(run.stderr, new RegExp(`device\\s+${id}`));
  assert.match(run.stderr, /label\s+npm run labels -- --machines CT0700026/);
  assert.match(run.stderr, /app @0x10000 .*100%.*ETA/, 'a progress line per image, with rate and ETA');
});

test('a write that fails part-way exits non-zero and removes the device from the registry again', async (ctx) => {
  const mac = '24:0a:c4:aa:00:02';
  const r = await rig(ctx, { mac, failWritesFrom: 0x30000 });
  const run = await runFlashCli(provisionArgs(ctx, r.hostPath), { tap: r.tapPath });
  assert.is(run.code, 1, run.stderr);
  const errors = errorLines(run);
  assert.is(errors.length, 1, run.stderr);
  assert.match(errors[0]!, /writing flash on .* failed/);
  assert.match(run.stderr, new RegExp(`removed ${deviceIdFromMac(mac)} from the registry`));
  assert.ok(ops(r.events()).includes('FLASH_DEFL_DATA'), 'it did get as far as writing');
  assert.is((await ctx.broker.api('GET', `/api/devices/${deviceIdFromMac(mac)}`)).status, 404);
});

test('a MAC already in the registry is refused with a hint, and --reprovision issues a new secret', async (ctx) => {
  const mac = '24:0a:c4:aa:00:03';
  const old = await ctx.broker.provision(mac.replace(/:/g, ''));
  const r = await rig(ctx, { mac });
  const refused = await runFlashCli(provisionArgs(ctx, r.hostPath), { tap: r.tapPath });
  assert.is(refused.code, 1);
  assert.match(errorLines(refused)[0]!, /already registered.*--reprovision/);
  assert.not.ok(
    ops(r.events()).some((op) => op.startsWith('FLASH_')),
    'nothing was written',
  );

  const again = await runFlashCli([...provisionArgs(ctx, r.hostPath), '--reprovision', '--erase'], { tap: r.tapPath });
  assert.is(again.code, 0, again.stderr);
  const written = ops(r.events());
  assert.ok(written.indexOf('ERASE_FLASH') >= 0 && written.indexOf('ERASE_FLASH') < written.indexOf('FLASH_DEFL_BEGIN'), '--erase erases the chip first');
  const flash = await r.flash();
  const creds = credentialsIn(flash);
  assertSameFlash(
    flash,
    expectedFlash(
      ctx.build,
      buildNvsPartition(credentialEntries({ broker: ctx.broker.broker.mqttUrl, id: old.id, secret: creds.secret as string, insecure: '1' }), NVS.size),
    ),
  );
  assert.is(creds.id, old.id);
  assert.is.not(creds.secret, old.secret);
  const device = await connectDevice(ctx.broker.broker.mqttUrl, { id: old.id, secret: creds.secret as string, mac: old.mac });
  device.client.end(true);
});

test('--nvs-only rewrites only the NVS partition, after checking the device has the same table', async (ctx) => {
  const r = await rig(ctx, { mac: '24:0a:c4:aa:00:04' });
  const enrollArgs = (token: string): string[] => [
    '--port',
    r.hostPath,
    '--broker',
    'mqtt://fleet.example.com:1883',
    '--insecure',
    '--enroll-token',
    token,
    '--build',
    ctx.build.dir,
  ];

  const blank = await runFlashCli([...enrollArgs('enroll-token-1'), '--nvs-only'], { tap: r.tapPath });
  assert.is(blank.code, 1);
  assert.match(errorLines(blank)[0]!, /--nvs-only: the device has no partition table \(erased flash\); flash the whole firmware first/);
  assert.not.ok(ops(r.events()).includes('FLASH_DEFL_BEGIN'));

  assert.is((await runFlashCli(enrollArgs('enroll-token-1'), { tap: r.tapPath })).code, 0);
  const mark = r.events().length;
  const run = await runFlashCli([...enrollArgs('enroll-token-2'), '--nvs-only'], { tap: r.tapPath });
  assert.is(run.code, 0, run.stderr);
  const second = r.events().slice(mark);
  assert.ok(
    second.some((e) => e.ev === 'command' && e.op === 'READ_FLASH' && e.a === 0x8000),
    'read the table on the device',
  );
  assert.equal(
    second.filter((e) => e.ev === 'command' && e.op === 'FLASH_DEFL_BEGIN').map((e) => e.offset),
    [NVS.offset],
  );
  const creds: Credentials = { broker: 'mqtt://fleet.example.com:1883', enroll: 'enroll-token-2', insecure: '1' };
  assertSameFlash(await r.flash(), expectedFlash(ctx.build, buildNvsPartition(credentialEntries(creds), NVS.size)));
  assert.not.ok(run.stdout.includes('enroll-token-2') || run.stderr.includes('enroll-token-2'), 'the token is not printed');
  assert.match(run.stderr, /registers itself on first boot/);
});

// The console lines are in the firmware's log format (firmware/platform/log.ts, core/core.ts).
const monitorArgs = (ctx: Ctx, port: string): string[] => [
  '--port',
  port,
  '--broker',
  'mqtt://fleet.example.com:1883',
  '--insecure',
  '--enroll-token',
  't',
  '--build',
  ctx.build.dir,
  '--monitor',
];

test('--monitor follows the console until the firmware says it is online', async (ctx) => {
  const r = await rig(ctx, {
    mac: '24:0a:c4:aa:00:05',
    appOutput: 'info Wi-Fi up ssid="lab"\\ninfo enrolled deviceId="esp32-240ac4aa0005"\\ninfo online deviceId="esp32-240ac4aa0005"\\n',
  });
  const run = await runFlashCli(monitorArgs(ctx, r.hostPath), { tap: r.tapPath });
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stderr, /│ info Wi-Fi up ssid="lab"/);
  assert.match(run.stderr, /console\s+info online deviceId="esp32-240ac4aa0005"/);
});

test("--monitor stops with the firmware's own words when it cannot get online", async (ctx) => {
  const r = await rig(ctx, { mac: '24:0a:c4:aa:00:08', appOutput: 'error the broker refused the enrollment token code="TOKEN_EXPIRED"\\n' });
  const run = await runFlashCli(monitorArgs(ctx, r.hostPath), { tap: r.tapPath });
  assert.is(run.code, 1);
  assert.match(errorLines(run)[0]!, /the firmware reports: error the broker refused the enrollment token code="TOKEN_EXPIRED" \(flashing itself succeeded\)/);
});

test('--monitor gives up with a clear line when the firmware never gets online', async (ctx) => {
  const r = await rig(ctx, { mac: '24:0a:c4:aa:00:06', appOutput: 'warn Wi-Fi down, retrying reason="no AP"\\n' });
  const run = await runFlashCli(monitorArgs(ctx, r.hostPath), { tap: r.tapPath, env: { FLEETBIND_MONITOR_TIMEOUT_MS: '2000' } });
  assert.is(run.code, 1);
  assert.match(errorLines(run)[0]!, /did not report being online within 2 s \(flashing itself succeeded\)/);
});

/** Every file under dir with its size and mtime, and the names at the top of the repository (the CLI's working directory). */
function localFiles(dir: string): string[] {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      const st = statSync(path);
      return `${path} ${st.size} ${st.mtimeMs}`;
    });
  return [...files.sort(), ...readdirSync(join(import.meta.dirname, '..', '..')).sort()];
}

/** What the broker holds that a flash could change: devices and the audit log. */
async function registry(ctx: Ctx): Promise<unknown> {
  return { devices: (await ctx.broker.api('GET', '/api/devices')).body, audit: (await ctx.broker.api('GET', '/api/audit?limit=1000')).body };
}

test("--dry-run changes nothing: not the registry, not the device's flash, not local files", async (ctx) => {
  const mac = '24:0a:c4:aa:00:09';
  const r = await rig(ctx, { mac });
  // Something on the device first, so an unchanged flash means more than an erased one.
  assert.is(
    (
      await runFlashCli(
        ['--port', r.hostPath, '--broker', 'mqtt://fleet.example.com:1883', '--insecure', '--enroll-token', 'first', '--build', ctx.build.dir],
        { tap: r.tapPath },
      )
    ).code,
    0,
  );
  const flashBefore = Buffer.from(await r.flash());
  const registryBefore = await registry(ctx);
  const filesBefore = localFiles(ctx.dir);

  const run = await runFlashCli([...provisionArgs(ctx, r.hostPath), '--machine', 'CT0700098', '--dry-run'], { tap: r.tapPath });
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`would register MAC ${mac.replace(/:/g, '')} as ${deviceIdFromMac(mac)}`));
  assert.match(run.stderr, /nothing was changed/);
  assert.ok(Buffer.from(await r.flash()).equals(flashBefore), 'the flash is as it was');
  assert.not.ok(
    ops(r.events())
      .slice(-40)
      .some((op) => op.startsWith('FLASH_') || op === 'ERASE_FLASH' || op === 'ERASE_REGION'),
    'nothing was written or erased',
  );
  assert.equal(await registry(ctx), registryBefore, 'the registry and the audit log are as they were');
  assert.equal(localFiles(ctx.dir), filesBefore, 'no local file was written');

  // The real run afterwards is not refused with "already registered".
  const real = await runFlashCli([...provisionArgs(ctx, r.hostPath), '--machine', 'CT0700098'], { tap: r.tapPath });
  assert.is(real.code, 0, real.stderr);
  assert.is((await ctx.broker.api('GET', `/api/devices/${deviceIdFromMac(mac)}`)).status, 200);

  // A dry run for a MAC that is registered says the real run would be refused, and still changes nothing.
  const registered = await registry(ctx);
  const again = await runFlashCli([...provisionArgs(ctx, r.hostPath), '--dry-run'], { tap: r.tapPath });
  assert.is(again.code, 1);
  assert.match(errorLines(again)[0]!, /already registered.*--reprovision/);
  assert.equal(await registry(ctx), registered);
});

test('--out writes the images, the NVS binary and flash_args to a folder', async (ctx) => {
  const out = join(ctx.dir, 'dry');
  const run = await runFlashCli([
    '--out',
    out,
    '--mac',
    '24:0a:c4:aa:00:07',
    '--machine',
    'CT0700099',
    '--broker',
    'mqtt://fleet.example.com:1883',
    '--insecure',
    '--enroll-token',
    'tok',
    '--build',
    ctx.build.dir,
  ]);
  assert.is(run.code, 0, run.stderr);
  assert.is(readFileSync(join(out, 'flash_args'), 'utf8'), '0x1000 bootloader.bin\n0x8000 partition-table.bin\n0x9000 nvs.bin\n0x10000 xs_esp32.bin\n');
  assert.ok(readFileSync(join(out, 'xs_esp32.bin')).equals(Buffer.from(ctx.build.app)));
  const nvs = readFileSync(join(out, 'nvs.bin'));
  assert.equal(credentialsIn(Buffer.concat([Buffer.alloc(NVS.offset), nvs])), {
    broker: 'mqtt://fleet.example.com:1883',
    enroll: 'tok',
    machine: 'CT0700099',
    insecure: '1',
  });
  assert.is(statSync(join(out, 'nvs.bin')).mode & 0o777, 0o600);
  const manifest = JSON.parse(readFileSync(join(out, 'flash.json'), 'utf8'));
  assert.is(manifest.deviceId, 'esp32-240ac4aa0007');
});

test('--out with mqtts:// and --ca puts the whole CA certificate into NVS, and no insecure entry', async (ctx) => {
  const out = join(ctx.dir, 'dry-tls');
  const ca = join(import.meta.dirname, '..', 'fixtures', 'tls', 'test-ca.pem');
  const run = await runFlashCli([
    '--out',
    out,
    '--mac',
    '24:0a:c4:aa:00:08',
    '--broker',
    'mqtts://fleet.example.com:8883',
    '--ca',
    ca,
    '--enroll-token',
    'tok',
    '--build',
    ctx.build.dir,
  ]);
  assert.is(run.code, 0, run.stderr);
  const nvs = readFileSync(join(out, 'nvs.bin'));
  assert.equal(credentialsIn(Buffer.concat([Buffer.alloc(NVS.offset), nvs])), {
    broker: 'mqtts://fleet.example.com:8883',
    enroll: 'tok',
    ca: readFileSync(ca, 'utf8'),
  });
});

test.run();
