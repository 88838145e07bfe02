// The emulated board around the loaders: the DTR/RTS auto-reset circuit, what the ROM prints on
// each kind of boot, and what a mismatched line rate does to the bytes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHIPS, parseMac, W25Q32_JEDEC_ID } from '../emulator/chip';
import { EmulatedDevice, type DeviceConfig } from '../emulator/device';
import { Op, encodeCommand, parseResponse, u32le } from '../emulator/protocol';
import { SlipDecoder, slipEncode } from '../emulator/slip';
import { pinsFor, ResetCircuit } from '../emulator/strapping';

const circuit = suite('emulator: auto-reset circuit');

circuit('EN is low only for RTS without DTR; IO0 only for DTR without RTS', () => {
  assert.equal(pinsFor({ dtr: false, rts: false }), { en: true, io0: true });
  assert.equal(pinsFor({ dtr: true, rts: true }), { en: true, io0: true });
  assert.equal(pinsFor({ dtr: false, rts: true }), { en: false, io0: true });
  assert.equal(pinsFor({ dtr: true, rts: false }), { en: true, io0: false });
});

circuit("esptool's classic reset (D0 R1, wait, D1 R0, wait, D0) boots the download ROM", () => {
  const c = new ResetCircuit({ dtr: true, rts: true });
  assert.equal(c.apply({ dtr: false, rts: true }), { kind: 'reset-asserted' });
  assert.equal(c.apply({ dtr: true, rts: false }), { kind: 'boot', mode: 'download' });
  assert.is(c.apply({ dtr: false, rts: false }), null);
});

circuit('releasing RTS alone, when it was never asserted, resets nothing', () => {
  const c = new ResetCircuit({ dtr: false, rts: false });
  assert.is(c.apply({ dtr: false, rts: false }), null);
});

circuit.run();

function device(overrides: Partial<DeviceConfig> = {}) {
  const out: Buffer[] = [];
  const events: Array<Record<string, unknown>> = [];
  const d = new EmulatedDevice(
    {
      identity: CHIPS.esp32!,
      mac: parseMac('24:0a:c4:00:00:01'),
      jedecId: W25Q32_JEDEC_ID,
      flashSize: 4 * 1024 * 1024,
      initial: 'app',
      failWritesFrom: null,
      maxBaud: 2_000_000,
      appOutput: 'hello from the app\r\n',
      ...overrides,
    },
    { write: (b) => out.push(b), log: (e) => events.push(e) },
  );
  const text = (): string => Buffer.concat(out.splice(0)).toString('latin1');
  const frames = (): Uint8Array[] => new SlipDecoder().push(Buffer.concat(out.splice(0))).flatMap((e) => (e.kind === 'frame' ? [e.payload] : []));
  const send = async (op: number, data: Uint8Array = new Uint8Array(0)): Promise<void> => {
    d.receive(slipEncode(encodeCommand(op, data)));
    await d.idle();
  };
  const classicReset = (): void => {
    d.setLines({ dtr: false, rts: true });
    d.setLines({ dtr: true, rts: false });
    d.setLines({ dtr: false, rts: false });
  };
  return { d, out, events, text, frames, send, classicReset };
}

const SYNC = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]);
const boot = suite('emulator: booting');

boot('a download boot prints the ROM banner esptool-js looks for', () => {
  const h = device();
  h.classicReset();
  assert.match(h.text(), /boot:0x3 \(DOWNLOAD_BOOT[^\n]*\r\nwaiting for download/);
  assert.is(h.d.mode, 'rom');
});

boot('a running app ignores loader commands until the chip is reset into download mode', async () => {
  const h = device();
  await h.send(Op.SYNC, SYNC);
  assert.is(h.out.length, 0);
  assert.ok(h.events.some((e) => e.ev === 'ignored-bytes'));
});

boot('an SPI boot with an image at 0x1000 runs the firmware; without one the ROM complains', () => {
  const h = device();
  h.d.setLines({ dtr: false, rts: true });
  h.d.setLines({ dtr: false, rts: false });
  assert.match(h.text(), /invalid header: 0xffffffff/);
  h.d.flash.bytes[0x1000] = 0xe9;
  h.d.setLines({ dtr: false, rts: true });
  h.d.setLines({ dtr: false, rts: false });
  const t = h.text();
  assert.match(t, /boot:0x13 \(SPI_FAST_FLASH_BOOT\)/);
  assert.match(t, /hello from the app/);
});

boot.run();

const rate = suite('emulator: line rate');

rate('the ROM adapts to the host rate at SYNC; the stub keeps the rate it was given', async () => {
  const h = device({ initial: 'download' });
  h.d.setHostBaud(230400);
  await h.send(Op.SYNC, SYNC);
  assert.is(h.frames().length, 8, 'autobaud: the ROM answers at 230400');
  h.d.setHostBaud(115200);
  await h.send(Op.READ_REG, u32le(0x40001000));
  assert.is(h.frames().length, 1, 'still adapting before CHANGE_BAUDRATE');
  await h.send(Op.CHANGE_BAUDRATE, u32le(460800, 0));
  assert.is(h.frames().length, 1, 'the reply goes out at the old rate');
  await h.send(Op.READ_REG, u32le(0x40001000));
  assert.is(h.frames().length, 0, 'host at 115200, chip at 460800: garbled');
  assert.ok(h.events.some((e) => e.ev === 'garbled'));
  h.d.setHostBaud(460800);
  await h.send(Op.READ_REG, u32le(0x40001000));
  const [frame] = h.frames();
  assert.is(parseResponse(frame!)!.value, 0x00f01d83);
});

rate('a bridge that cannot carry the rate garbles everything at that rate', async () => {
  const h = device({ initial: 'download', maxBaud: 115200 });
  h.d.setHostBaud(921600);
  await h.send(Op.SYNC, SYNC);
  assert.is(h.frames().length, 0);
});

rate.run();
