// The emulated ROM loader and flasher stub, command by command, without a serial line: what each
// replies (status bytes, values, data) and what each does to the flash.
import { createHash, randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHIPS, ChipRegisters, parseMac, W25Q32_JEDEC_ID } from '../emulator/chip';
import { FlashMemory } from '../emulator/flash-memory';
import { ROM, STUB } from '../emulator/dialects';
import { Loader, OHAI } from '../emulator/loader';
import { Op, dataChecksum, dataPayload, encodeCommand, parseResponse, u32le, type Response } from '../emulator/protocol';

const STUB_TEXT_START = 0x40080000;
const MAC = '24:0a:c4:01:02:03';

function harness() {
  const sent: Uint8Array[] = [];
  const events: Array<Record<string, unknown>> = [];
  const bauds: Array<{ baud: number; repliesBefore: number }> = [];
  const flash = new FlashMemory();
  const regs = new ChipRegisters({ identity: CHIPS.esp32!, mac: parseMac(MAC), jedecId: W25Q32_JEDEC_ID });
  const loader = new Loader(CHIPS.esp32!, regs, flash, {
    send: (p) => sent.push(p),
    log: (e) => events.push(e),
    autobaud: () => {},
    setBaud: (baud) => bauds.push({ baud, repliesBefore: sent.length }),
    leave: () => {},
  });
  const raw = async (op: number, data: Uint8Array = new Uint8Array(0), checksum = 0): Promise<Uint8Array[]> => {
    sent.length = 0;
    await loader.handle(encodeCommand(op, data, checksum));
    return sent.splice(0);
  };
  const cmd = async (op: number, data?: Uint8Array, checksum?: number): Promise<Response[]> => (await raw(op, data, checksum)).map((p) => parseResponse(p)!);
  const one = async (op: number, data?: Uint8Array, checksum?: number): Promise<Response> => {
    const r = await cmd(op, data, checksum);
    assert.is(r.length, 1, `one reply to ${op}`);
    return r[0]!;
  };
  const block = (op: number, data: Uint8Array, seq: number) => one(op, dataPayload(data, seq), dataChecksum(data));
  const startStub = async (): Promise<void> => {
    const code = new Uint8Array(randomBytes(0x100));
    await one(Op.MEM_BEGIN, u32le(code.length, 1, 0x1800, STUB_TEXT_START));
    await block(Op.MEM_DATA, code, 0);
    const out = await raw(Op.MEM_END, u32le(0, STUB_TEXT_START + 4));
    assert.equal([...out[1]!], [...OHAI], 'the stub says OHAI once running');
    assert.is(loader.mode, 'stub');
  };
  return { loader, flash, events, bauds, raw, cmd, one, block, startStub, sent };
}

const romStatus = (r: Response): number[] => [...r.body.subarray(r.body.length - 4)];
const stubStatus = (r: Response): number[] => [...r.body.subarray(r.body.length - 2)];
const SYNC = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]);

const rom = suite('emulator: ROM loader');

rom('SYNC is answered eight times with the ROM value and four status bytes', async () => {
  const h = harness();
  const replies = await h.cmd(Op.SYNC, SYNC);
  assert.is(replies.length, 8);
  for (const r of replies) {
    assert.is(r.op, Op.SYNC);
    assert.is(r.value, 0x20120707);
    assert.equal([...r.body], [0, 0, 0, 0]);
  }
  assert.equal(romStatus(await h.one(Op.SYNC, SYNC.subarray(0, 35))), [1, ROM.codes.length, 0, 0]);
});

rom('READ_REG gives the ESP32 magic and eFuse words holding the configured MAC', async () => {
  const h = harness();
  assert.is((await h.one(Op.READ_REG, u32le(0x40001000))).value, 0x00f01d83);
  const mac0 = (await h.one(Op.READ_REG, u32le(0x3ff5a004))).value;
  const mac1 = (await h.one(Op.READ_REG, u32le(0x3ff5a008))).value;
  // esptool-js ESP32ROM.readMac's decoding
  const mac = [(mac1 >> 8) & 0xff, mac1 & 0xff, (mac0 >>> 24) & 0xff, (mac0 >> 16) & 0xff, (mac0 >> 8) & 0xff, mac0 & 0xff];
  assert.is(mac.map((b) => b.toString(16).padStart(2, '0')).join(':'), MAC);
});

rom('the SPI user-command registers return the flash JEDEC id for RDID', async () => {
  const h = harness();
  const base = 0x3ff42000;
  const w = (addr: number, value: number) => h.one(Op.WRITE_REG, u32le(addr, value, 0xffffffff, 0));
  await w(base + 0x2c, 23); // MISO bit length - 1
  await w(base + 0x1c, (1 << 31) | (1 << 28)); // USR: command + MISO
  await w(base + 0x24, (7 << 28) | 0x9f); // USR2: 8-bit command 0x9F
  await w(base + 0x80, 0);
  await w(base + 0x00, 1 << 18); // go
  assert.is((await h.one(Op.READ_REG, u32le(base))).value & (1 << 18), 0, 'the command completes');
  assert.is((await h.one(Op.READ_REG, u32le(base + 0x80))).value, 0x1640ef);
});

rom('GET_SECURITY_INFO is unknown to the ESP32 ROM: eight "invalid message" replies under another op', async () => {
  const h = harness();
  const replies = await h.cmd(Op.GET_SECURITY_INFO);
  assert.is(replies.length, 8);
  for (const r of replies) {
    assert.is.not(r.op, Op.GET_SECURITY_INFO);
    assert.equal([...r.body], [1, ROM.codes.length, 0, 0]);
  }
});

rom('stub-only commands are unknown to the ROM', async () => {
  const h = harness();
  for (const op of [Op.ERASE_FLASH, Op.ERASE_REGION, Op.READ_FLASH]) assert.is((await h.cmd(op, new Uint8Array(op === Op.ERASE_FLASH ? 0 : 8))).length, 8);
});

rom('MEM_DATA with a bad checksum is refused with the ROM checksum error', async () => {
  const h = harness();
  await h.one(Op.MEM_BEGIN, u32le(4, 1, 0x1800, STUB_TEXT_START));
  const r = await h.one(Op.MEM_DATA, dataPayload(Uint8Array.of(1, 2, 3, 4), 0), 0x00);
  assert.equal(romStatus(r), [1, ROM.codes.checksum, 0, 0]);
});

rom('jumping to an entry point outside loaded RAM crashes the chip: nothing answers any more', async () => {
  const h = harness();
  await h.one(Op.MEM_BEGIN, u32le(4, 1, 0x1800, STUB_TEXT_START));
  await h.block(Op.MEM_DATA, Uint8Array.of(1, 2, 3, 4), 0);
  assert.is((await h.raw(Op.MEM_END, u32le(0, 0x40000000))).length, 1, 'MEM_END itself is acknowledged');
  assert.is(h.loader.mode, 'crashed');
  assert.is((await h.raw(Op.SYNC, SYNC)).length, 0);
});

rom('MD5 comes back as 32 hex characters and four status bytes', async () => {
  const h = harness();
  h.flash.bytes.set(Buffer.from('hello flash'), 0x2000);
  const r = await h.one(Op.SPI_FLASH_MD5, u32le(0x2000, 11, 0, 0));
  assert.is(Buffer.from(r.body.subarray(0, 32)).toString(), createHash('md5').update('hello flash').digest('hex'));
  assert.equal(romStatus(r), [0, 0, 0, 0]);
});

rom('FLASH_BEGIN erases the region at once; FLASH_DATA writes whole blocks and checks the checksum', async () => {
  const h = harness();
  h.flash.bytes.fill(0x00, 0x20000, 0x22000);
  assert.equal(romStatus(await h.one(Op.FLASH_BEGIN, u32le(0x1000, 1, 0x400, 0x20000, 0))), [0, 0, 0, 0]);
  assert.ok(
    h.flash.bytes.subarray(0x20000, 0x21000).every((b) => b === 0xff),
    'erased before data arrives',
  );
  assert.ok(
    h.flash.bytes.subarray(0x21000, 0x22000).every((b) => b === 0x00),
    'nothing beyond the region',
  );
  const data = new Uint8Array(randomBytes(0x400));
  assert.equal(romStatus(await h.one(Op.FLASH_DATA, dataPayload(data, 0), dataChecksum(data) ^ 1)), [1, ROM.codes.checksum, 0, 0]);
  assert.equal(romStatus(await h.block(Op.FLASH_DATA, data, 0)), [0, 0, 0, 0]);
  assert.equal([...h.flash.bytes.subarray(0x20000, 0x20400)], [...data]);
});

rom.run();

const stub = suite('emulator: flasher stub');

stub('MEM_END with an entry point in loaded RAM starts the stub, which answers SYNC with value 0', async () => {
  const h = harness();
  await h.startStub();
  const replies = await h.cmd(Op.SYNC, SYNC);
  assert.is(replies.length, 8);
  assert.ok(replies.every((r) => r.value === 0 && r.body.length === 2));
});

stub('compressed writes land exactly at the offset; the touched sectors are erased around them', async () => {
  const h = harness();
  await h.startStub();
  h.flash.bytes.fill(0x00);
  const image = new Uint8Array(randomBytes(0x5000 + 3));
  const z = deflateSync(image);
  const offset = 0x31000 + 0x10;
  await h.one(Op.FLASH_DEFL_BEGIN, u32le(image.length, Math.ceil(z.length / 0x4000), 0x4000, offset));
  for (let seq = 0, at = 0; at < z.length; seq++, at += 0x4000) {
    assert.equal(stubStatus(await h.block(Op.FLASH_DEFL_DATA, z.subarray(at, at + 0x4000), seq)), [0, 0]);
  }
  assert.equal(stubStatus(await h.one(Op.FLASH_DEFL_END, u32le(1))), [0, 0]);
  assert.ok(Buffer.from(h.flash.bytes.subarray(offset, offset + image.length)).equals(image));
  assert.ok(
    h.flash.bytes.subarray(0x31000, offset).every((b) => b === 0xff),
    'head of the first sector erased',
  );
  const end = offset + image.length;
  assert.ok(
    h.flash.bytes.subarray(end, 0x37000).every((b) => b === 0xff),
    'tail of the last sector erased',
  );
  assert.ok(
    h.flash.bytes.subarray(0x30000, 0x31000).every((b) => b === 0) && h.flash.bytes.subarray(0x37000, 0x38000).every((b) => b === 0),
    'neighbours untouched',
  );
});

stub('a data block with a bad checksum is refused with 0xC1', async () => {
  const h = harness();
  await h.startStub();
  await h.one(Op.FLASH_BEGIN, u32le(4, 1, 0x4000, 0x40000));
  assert.equal(stubStatus(await h.one(Op.FLASH_DATA, dataPayload(Uint8Array.of(1, 2, 3, 4), 0), 0x12)), [STUB.codes.checksum, 0]);
});

stub('ending a write before all its data came is refused', async () => {
  const h = harness();
  await h.startStub();
  await h.one(Op.FLASH_BEGIN, u32le(0x2000, 1, 0x4000, 0x40000));
  await h.block(Op.FLASH_DATA, new Uint8Array(0x1000), 0);
  assert.equal(stubStatus(await h.one(Op.FLASH_END, u32le(1))), [STUB.codes.length, 0]);
});

stub('a failed flash write is acknowledged first and reported on the next command, which is skipped', async () => {
  const h = harness();
  await h.startStub();
  h.flash.failWritesFrom = 0x50000;
  await h.one(Op.FLASH_BEGIN, u32le(0x8000, 2, 0x4000, 0x4c000));
  const a = new Uint8Array(0x4000).fill(0x11);
  const b = new Uint8Array(0x4000).fill(0x22);
  assert.equal(stubStatus(await h.block(Op.FLASH_DATA, a, 0)), [0, 0]);
  assert.equal(stubStatus(await h.block(Op.FLASH_DATA, b, 1)), [0, 0], 'acknowledged before the write fails');
  const next = await h.one(Op.READ_REG, u32le(0x40001000));
  assert.equal(stubStatus(next), [STUB.codes['spi-write'], 0]);
  assert.is(next.value, 0, 'the command that carried the error was not executed');
  assert.is((await h.one(Op.READ_REG, u32le(0x40001000))).value, 0x00f01d83, 'and the one after works again');
  assert.ok(h.flash.bytes.subarray(0x4c000, 0x50000).every((x) => x === 0x11));
  assert.ok(
    h.flash.bytes.subarray(0x50000, 0x54000).every((x) => x === 0xff),
    'the failed block left erased flash',
  );
});

stub('corrupt compressed data is reported as an inflate error', async () => {
  const h = harness();
  await h.startStub();
  await h.one(Op.FLASH_DEFL_BEGIN, u32le(0x1000, 1, 0x4000, 0x60000));
  const junk = Uint8Array.of(0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0x00, 0x12);
  await h.block(Op.FLASH_DEFL_DATA, junk, 0);
  assert.equal(stubStatus(await h.one(Op.FLASH_DEFL_END, u32le(1))), [STUB.codes.inflate, 0]);
});

stub('MD5 comes back as 16 raw bytes and two status bytes', async () => {
  const h = harness();
  await h.startStub();
  const r = await h.one(Op.SPI_FLASH_MD5, u32le(0x1000, 0x100, 0, 0));
  assert.equal([...r.body.subarray(0, 16)], [...createHash('md5').update(new Uint8Array(0x100).fill(0xff)).digest()]);
  assert.is(r.body.length, 18);
});

stub('ERASE_REGION takes sector-aligned regions only, and erases exactly them; ERASE_FLASH erases all', async () => {
  const h = harness();
  await h.startStub();
  h.flash.bytes.fill(0);
  assert.equal(stubStatus(await h.one(Op.ERASE_REGION, u32le(0x1001, 0x1000))), [STUB.codes.length, 0]);
  assert.equal(stubStatus(await h.one(Op.ERASE_REGION, u32le(0x1000, 0x2000))), [0, 0]);
  assert.ok(h.flash.bytes.subarray(0x1000, 0x3000).every((b) => b === 0xff));
  assert.is(h.flash.bytes[0xfff], 0);
  assert.is(h.flash.bytes[0x3000], 0);
  await h.one(Op.ERASE_FLASH);
  assert.ok(h.flash.bytes.every((b) => b === 0xff));
});

stub('READ_FLASH sends one packet per acknowledgement, then the MD5 of all it sent', async () => {
  const h = harness();
  await h.startStub();
  const data = new Uint8Array(randomBytes(0x1800));
  h.flash.bytes.set(data, 0x70000);
  const first = await h.raw(Op.READ_FLASH, u32le(0x70000, data.length, 0x1000, 64));
  assert.equal(stubStatus(parseResponse(first[0]!)!), [0, 0]);
  assert.equal([...first[1]!], [...data.subarray(0, 0x1000)]);
  h.sent.length = 0;
  await h.loader.handle(u32le(0x1000));
  assert.equal([...h.sent[0]!], [...data.subarray(0x1000)]);
  h.sent.length = 0;
  await h.loader.handle(u32le(0x1800));
  assert.equal([...h.sent[0]!], [...createHash('md5').update(data).digest()]);
  assert.is((await h.one(Op.READ_REG, u32le(0x40001000))).value, 0x00f01d83, 'back to commands');
});

stub('CHANGE_BAUDRATE replies at the old rate, then switches', async () => {
  const h = harness();
  await h.startStub();
  await h.one(Op.CHANGE_BAUDRATE, u32le(921600, 115200));
  assert.equal(h.bauds, [{ baud: 921600, repliesBefore: 1 }]);
});

stub('unknown commands get INVALID_COMMAND', async () => {
  const h = harness();
  await h.startStub();
  assert.equal(stubStatus(await h.one(0x77)), [STUB.codes.unknown, 0]);
});

stub.run();

const nor = suite('emulator: NOR flash model');

nor('programming only clears bits; erasing sets them again', () => {
  const f = new FlashMemory(0x20000);
  f.program(0x100, Uint8Array.of(0xf0));
  f.program(0x100, Uint8Array.of(0x3c));
  assert.is(f.bytes[0x100], 0x30);
  f.eraseSector(0);
  assert.is(f.bytes[0x100], 0xff);
  assert.throws(() => f.eraseSector(0x10), /unaligned/);
  assert.throws(() => f.program(0x1ffff, Uint8Array.of(1, 2)), /outside/);
});

nor.run();
