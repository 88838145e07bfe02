// `--port auto` and missing ports, against a sysfs tree laid out as Linux lays out USB serial
// adapters (class/tty/<name>/device -> the usb-serial port, under the USB interface, under the USB
// device that holds idVendor/idProduct). FLEETBIND_SYSFS_ROOT and FLEETBIND_DEV_ROOT point the
// flasher at it; the "device node" is a link to the emulator's pty.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { listUsbSerialPorts } from '../../host-tools/serial/port-list';
import { startRig } from '../emulator/rig';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { makeFakeBuild, type FakeBuild } from './fake-build';
import { errorLines, runFlashCli } from './run-flash';

interface Ctx {
  dir: string;
  build: FakeBuild;
}

const test = suite<Ctx>('flash: finding the port');
const enroll = ['--broker', 'mqtt://fleet.example.com:1883', '--insecure', '--enroll-token', 'tok'];

test.before((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-ports-'));
  ctx.build = makeFakeBuild(ctx.dir);
});
test.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

/** A sysfs root and a /dev root with the given USB serial adapters (plus a non-USB ttyS0). */
function machine(ctx: Ctx, name: string, adapters: Array<{ tty: string; vid: string; pid: string; node?: string }>): { sys: string; dev: string } {
  const sys = join(ctx.dir, name, 'sys');
  const dev = join(ctx.dir, name, 'dev');
  mkdirSync(dev, { recursive: true });
  mkdirSync(join(sys, 'class', 'tty', 'ttyS0'), { recursive: true });
  adapters.forEach((a, i) => {
    const usbDevice = join(sys, 'devices', 'pci0000:00', 'usb1', `1-${i + 1}`);
    const port = join(usbDevice, `1-${i + 1}:1.0`, a.tty);
    mkdirSync(port, { recursive: true });
    writeFileSync(join(usbDevice, 'idVendor'), `${a.vid}\n`);
    writeFileSync(join(usbDevice, 'idProduct'), `${a.pid}\n`);
    mkdirSync(join(sys, 'class', 'tty', a.tty));
    symlinkSync(port, join(sys, 'class', 'tty', a.tty, 'device'));
    if (a.node) symlinkSync(a.node, join(dev, a.tty));
  });
  return { sys, dev };
}

const envFor = (m: { sys: string; dev: string }) => ({ FLEETBIND_SYSFS_ROOT: m.sys, FLEETBIND_DEV_ROOT: m.dev });

test('the listing has each USB serial port with its ids and a guess, and leaves other ttys out', async (ctx) => {
  const m = machine(ctx, 'list', [
    { tty: 'ttyACM0', vid: '303a', pid: '1001' },
    { tty: 'ttyUSB0', vid: '10c4', pid: 'ea60' },
  ]);
  const ports = await listUsbSerialPorts(envFor(m));
  assert.equal(ports, [
    { path: join(m.dev, 'ttyACM0'), usbVendorId: 0x303a, usbProductId: 0x1001, guess: 'ESP32-S3 or ESP32-C3 (its own USB-Serial/JTAG)' },
    { path: join(m.dev, 'ttyUSB0'), usbVendorId: 0x10c4, usbProductId: 0xea60, guess: 'CP210x bridge: likely an ESP32 board' },
  ]);
});

test('--port auto flashes the only USB serial port', async (ctx) => {
  requireTool('socat', 'socat');
  const rig = await startRig({ chip: 'esp32' });
  try {
    const m = machine(ctx, 'one', [{ tty: 'ttyUSB0', vid: '1a86', pid: '55d4', node: rig.hostPath }]);
    const run = await runFlashCli(['--port', 'auto', ...enroll, '--build', ctx.build.dir], { tap: rig.tapPath, env: envFor(m) });
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stderr, /--port auto: .*ttyUSB0 \(1a86:55d4, CH9102 bridge: likely an ESP32 board\)/);
    assert.ok(
      rig.events().some((e) => e.ev === 'command' && e.op === 'FLASH_DEFL_DATA'),
      'it wrote to the device',
    );
  } finally {
    await rig.stop();
  }
});

test('--port auto with several ports lists them with VID/PID and a chip guess, and touches none', async (ctx) => {
  const m = machine(ctx, 'two', [
    { tty: 'ttyACM0', vid: '303a', pid: '1001' },
    { tty: 'ttyUSB0', vid: '10c4', pid: 'ea60' },
  ]);
  const run = await runFlashCli(['--port', 'auto', ...enroll, '--build', ctx.build.dir], { env: envFor(m) });
  assert.is(run.code, 2, run.stderr);
  const lines = errorLines(run);
  assert.is(lines.length, 1, run.stderr);
  assert.match(
    lines[0]!,
    /--port auto: 2 USB serial ports, pick one with --port: .*ttyACM0 \(303a:1001, ESP32-S3 or ESP32-C3 \(its own USB-Serial\/JTAG\)\); .*ttyUSB0 \(10c4:ea60, CP210x bridge: likely an ESP32 board\)$/,
  );
});

test('--port auto with no USB serial port says so', async (ctx) => {
  const m = machine(ctx, 'none', []);
  const run = await runFlashCli(['--port', 'auto', ...enroll, '--build', ctx.build.dir], { env: envFor(m) });
  assert.is(run.code, 1, run.stderr);
  assert.match(errorLines(run)[0]!, /--port auto: no USB serial ports are connected/);
});

test('a port that does not exist: the error lists the ports that do', async (ctx) => {
  const m = machine(ctx, 'missing', [{ tty: 'ttyUSB0', vid: '10c4', pid: 'ea60' }]);
  const run = await runFlashCli(['--port', join(ctx.dir, 'ttyUSB9'), ...enroll, '--build', ctx.build.dir], { env: envFor(m) });
  assert.is(run.code, 1, run.stderr);
  assert.match(errorLines(run)[0]!, /no serial port at .*ttyUSB9; .*ttyUSB0 \(10c4:ea60, CP210x bridge: likely an ESP32 board\)$/);
});

test.run();
