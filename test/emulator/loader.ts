// The two serial loaders an ESP32 runs in download mode, as the host sees them:
// - the ROM loader (4 status bytes; ROM error codes; MD5 as 32 hex characters; erases on *_BEGIN;
//   answers commands it does not know with an "invalid message" reply repeated 8 times);
// - the flasher stub esptool-js 0.7.0 uploads (esp-flasher-stub: 2 status bytes; 0xC0.. error
//   codes; acknowledges a data block before writing it, and reports a failure of that write on the
//   next command; MD5 as 16 raw bytes; erase, read and chip erase commands).
// Sources: esptool docs "Serial Protocol", esp-flasher-stub src/command_handler.c.
import { ChipRegisters, type ChipIdentity } from './chip';
import { EraseCursor, FlashFault, FlashMemory, SECTOR_SIZE } from './flash-memory';
import { BlockInflater } from './inflater';
import { createHash, type Hash } from 'node:crypto';
import { Op, dataChecksum, encodeResponse, opName, parseCommand, words, type Command } from './protocol';

/** 'crashed': the host jumped into RAM that holds no (complete) code; nothing answers until a reset. */
export type LoaderMode = 'rom' | 'stub' | 'crashed';

/** ROM loader error codes (esptool docs, "ROM Loader Errors"). */
export const RomError = { INVALID_MESSAGE: 0x05, FAILED: 0x06, CHECKSUM: 0x07, FLASH_WRITE: 0x08, FLASH_READ: 0x09, DEFLATE: 0x0b } as const;

/** Flasher stub error codes (esp-flasher-stub commands.h, high byte of the big-endian status). */
export const StubError = {
  BAD_DATA_LEN: 0xc0,
  BAD_DATA_CHECKSUM: 0xc1,
  INVALID_COMMAND: 0xc3,
  FAILED_SPI_OP: 0xc4,
  NOT_IN_FLASH_MODE: 0xc6,
  INFLATE_ERROR: 0xc7,
  NOT_ENOUGH_DATA: 0xc8,
  TOO_MUCH_DATA: 0xc9,
  CMD_NOT_IMPLEMENTED: 0xff,
} as const;

const SYNC_BODY = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]);
/** The value field of the ROM's SYNC replies (0x20120707); the stub answers 0, which is how hosts tell them apart. */
const ROM_SYNC_VALUE = 0x20120707;
/** The flasher stub announces itself with this unsolicited frame once it runs. */
export const OHAI = Uint8Array.from([0x4f, 0x48, 0x41, 0x49]);

export interface LoaderIo {
  send(payload: Uint8Array): void;
  log(event: Record<string, unknown>): void;
  /** The ROM measures the host's baud rate from each SYNC. */
  autobaud(): void;
  /** CHANGE_BAUDRATE: the UART switches after the reply has gone out. */
  setBaud(baud: number): void;
  /** The ROM's FLASH_END / FLASH_DEFL_END leave the loader (0: reboot, 1: run the app in flash). */
  leave(how: 'reboot' | 'run-user-code'): void;
}

interface FlashWrite {
  compressed: boolean;
  offset: number;
  remaining: number;
  blockSize: number;
  nextSeq: number;
  erase: EraseCursor | null;
  inflater: BlockInflater | null;
}

interface MemLoad {
  offset: number;
  remaining: number;
}

interface FlashRead {
  addr: number;
  remaining: number;
  packetSize: number;
  sent: number;
  total: number;
  hash: Hash;
}

export class Loader {
  mode: LoaderMode = 'rom';
  private flashOp: FlashWrite | null = null;
  private memOp: MemLoad | null = null;
  private read: FlashRead | null = null;
  /** Where RAM was loaded (MEM_*), so MEM_END can tell whether the entry point holds code. */
  private readonly ram: Array<{ start: number; end: number }> = [];
  /** A stub post-processing failure, returned as the status of the next command. */
  private pendingError = 0;

  constructor(
    private readonly identity: ChipIdentity,
    private readonly regs: ChipRegisters,
    private readonly flash: FlashMemory,
    private readonly io: LoaderIo,
  ) {}

  async handle(frame: Uint8Array): Promise<void> {
    if (this.mode === 'crashed') return;
    if (this.read) return this.readAck(frame);
    const cmd = parseCommand(frame);
    if (!cmd) {
      this.io.log({ ev: 'bad-packet', mode: this.mode, bytes: frame.length });
      // The stub answers a packet that is not a request with INVALID_COMMAND; the ROM stays silent.
      if (this.mode === 'stub' && frame.length >= 8) this.reply(frame[1]!, StubError.INVALID_COMMAND);
      return;
    }
    this.io.log({ ev: 'command', mode: this.mode, op: opName(cmd.op), ...this.describe(cmd) });
    if (this.mode === 'rom') return this.rom(cmd);
    return this.stub(cmd);
  }

  private describe(cmd: Command): Record<string, unknown> {
    const w = (n: number): number[] => (cmd.data.length >= n * 4 ? words(cmd.data, n) : []);
    switch (cmd.op) {
      case Op.READ_REG:
        return { addr: w(1)[0] };
      case Op.WRITE_REG:
        return { addr: w(1)[0], value: w(2)[1] };
      case Op.FLASH_BEGIN:
      case Op.FLASH_DEFL_BEGIN: {
        const [size, blocks, blockSize, offset] = w(4);
        return { size, blocks, blockSize, offset };
      }
      case Op.FLASH_DATA:
      case Op.FLASH_DEFL_DATA:
      case Op.MEM_DATA: {
        const [len, seq] = w(2);
        return { len, seq };
      }
      case Op.MEM_BEGIN: {
        const [size, , , offset] = w(4);
        return { size, offset };
      }
      case Op.MEM_END:
      case Op.SPI_FLASH_MD5:
      case Op.ERASE_REGION:
      case Op.READ_FLASH: {
        const [a, b] = w(2);
        return { a, b };
      }
      case Op.CHANGE_BAUDRATE:
        return { baud: w(1)[0] };
      default:
        return {};
    }
  }

  // --- responses -------------------------------------------------------------------------------

  private reply(op: number, status: number, data: Uint8Array = new Uint8Array(0), value = 0): void {
    const tail = this.mode === 'rom' ? [status === 0 ? 0 : 1, status, 0, 0] : [status, 0];
    const body = new Uint8Array(data.length + tail.length);
    body.set(data);
    body.set(tail, data.length);
    this.io.send(encodeResponse(op, value, body));
    if (status !== 0) this.io.log({ ev: 'error-reply', mode: this.mode, op: opName(op), status });
  }

  /** The ROM's reply to a command it does not implement: status 1, error 0x05, sent 8 times. */
  private romUnsupported(op: number): void {
    this.io.log({ ev: 'unsupported', mode: 'rom', op: opName(op) });
    // The ROM's op byte in this reply is not documented; esptool (loader.py command()) and
    // esptool-js (readPacket) only rely on it differing from the request, with status 1/0x05.
    const pkt = encodeResponse(0x00, 0, Uint8Array.from([1, RomError.INVALID_MESSAGE, 0, 0]));
    for (let i = 0; i < 8; i++) this.io.send(pkt);
  }

  // --- ROM loader --------------------------------------------------------------------------------

  private async rom(cmd: Command): Promise<void> {
    const { op, data } = cmd;
    if (data.length !== cmd.size) return this.reply(op, RomError.INVALID_MESSAGE);
    switch (op) {
      case Op.SYNC:
        if (!sameBytes(data, SYNC_BODY)) return this.reply(op, RomError.INVALID_MESSAGE);
        this.io.autobaud();
        for (let i = 0; i < 8; i++) this.reply(op, 0, new Uint8Array(0), ROM_SYNC_VALUE);
        return;
      case Op.READ_REG:
        return data.length === 4 ? this.reply(op, 0, new Uint8Array(0), this.readReg(words(data, 1)[0]!)) : this.reply(op, RomError.INVALID_MESSAGE);
      case Op.WRITE_REG:
        return this.reply(op, this.writeRegs(data) ? 0 : RomError.INVALID_MESSAGE);
      case Op.SPI_ATTACH:
        // The ROM takes the pin word plus 4 zero bytes; esptool-js sends only the pin word.
        return this.reply(op, data.length === 4 || data.length === 8 ? 0 : RomError.INVALID_MESSAGE);
      case Op.SPI_SET_PARAMS:
        return this.reply(op, this.setParams(data) ? 0 : RomError.INVALID_MESSAGE);
      case Op.CHANGE_BAUDRATE:
        if (data.length !== 8) return this.reply(op, RomError.INVALID_MESSAGE);
        this.reply(op, 0);
        return this.io.setBaud(words(data, 1)[0]!);
      case Op.MEM_BEGIN:
        return this.reply(op, this.memBegin(data) ? 0 : RomError.INVALID_MESSAGE);
      case Op.MEM_DATA:
        return this.reply(op, this.memData(cmd, RomError.CHECKSUM, RomError.INVALID_MESSAGE));
      case Op.MEM_END:
        return this.memEnd(cmd);
      case Op.FLASH_BEGIN:
      case Op.FLASH_DEFL_BEGIN:
        return this.reply(op, this.romFlashBegin(cmd));
      case Op.FLASH_DATA:
      case Op.FLASH_DEFL_DATA:
        return this.reply(op, await this.romFlashData(cmd));
      case Op.FLASH_END:
      case Op.FLASH_DEFL_END: {
        if (data.length !== 4) return this.reply(op, RomError.INVALID_MESSAGE);
        this.closeFlashOp();
        this.reply(op, 0);
        return this.io.leave(words(data, 1)[0] === 0 ? 'reboot' : 'run-user-code');
      }
      case Op.SPI_FLASH_MD5: {
        const digest = this.md5(data);
        if (typeof digest === 'number') return this.reply(op, digest === StubError.BAD_DATA_LEN ? RomError.INVALID_MESSAGE : RomError.FLASH_READ);
        return this.reply(op, 0, new TextEncoder().encode(digest.toString('hex')));
      }
      case Op.GET_SECURITY_INFO:
        if (!this.identity.securityInfo) return this.romUnsupported(op);
        return this.reply(op, 0, this.identity.securityInfo);
      default:
        return this.romUnsupported(op);
    }
  }

  private romFlashBegin(cmd: Command): number {
    if (cmd.data.length !== 16 && cmd.data.length !== 20) return RomError.INVALID_MESSAGE;
    const [eraseSize, , blockSize, offset] = words(cmd.data, 4) as [number, number, number, number];
    try {
      // The ROM erases the whole region before it acknowledges *_BEGIN.
      new EraseCursor(this.flash, offset, eraseSize).eraseTo(offset + eraseSize);
    } catch (e) {
      this.faultLog(e);
      return RomError.FLASH_WRITE;
    }
    this.openFlashOp(cmd.op === Op.FLASH_DEFL_BEGIN, offset, Number.MAX_SAFE_INTEGER, blockSize, null);
    return 0;
  }

  private async romFlashData(cmd: Command): Promise<number> {
    const op = this.flashOp;
    if (!op || op.compressed !== (cmd.op === Op.FLASH_DEFL_DATA)) return RomError.INVALID_MESSAGE;
    const checked = this.checkData(cmd);
    if (checked === 'length') return RomError.INVALID_MESSAGE;
    if (checked === 'checksum') return RomError.CHECKSUM;
    const [, seq] = words(cmd.data, 2) as [number, number];
    if (seq !== op.nextSeq) return RomError.INVALID_MESSAGE;
    op.nextSeq++;
    try {
      // The ROM writes the whole padded block where FLASH_BEGIN said, then acknowledges.
      await this.writeBlock(op, cmd.data.subarray(16));
      return 0;
    } catch (e) {
      return e instanceof FlashFault ? (this.faultLog(e), RomError.FLASH_WRITE) : (this.faultLog(e), RomError.DEFLATE);
    }
  }

  // --- flasher stub ------------------------------------------------------------------------------

  private async stub(cmd: Command): Promise<void> {
    const { op, data } = cmd;
    if (data.length !== cmd.size) return this.reply(op, StubError.BAD_DATA_LEN);
    if (this.pendingError !== 0) {
      const status = this.pendingError;
      this.pendingError = 0;
      return this.reply(op, status);
    }
    switch (op) {
      case Op.SYNC:
        if (data.length !== 36) return this.reply(op, StubError.BAD_DATA_LEN);
        for (let i = 0; i < 8; i++) this.reply(op, 0);
        return;
      case Op.READ_REG:
        return data.length === 4 ? this.reply(op, 0, new Uint8Array(0), this.readReg(words(data, 1)[0]!)) : this.reply(op, StubError.BAD_DATA_LEN);
      case Op.WRITE_REG:
        return this.reply(op, this.writeRegs(data) ? 0 : StubError.NOT_ENOUGH_DATA);
      case Op.SPI_ATTACH:
        return this.reply(op, data.length === 4 ? 0 : StubError.BAD_DATA_LEN);
      case Op.SPI_SET_PARAMS:
        return this.reply(op, this.setParams(data) ? 0 : StubError.BAD_DATA_LEN);
      case Op.CHANGE_BAUDRATE:
        if (data.length !== 8) return this.reply(op, StubError.BAD_DATA_LEN);
        this.reply(op, 0);
        return this.io.setBaud(words(data, 1)[0]!);
      case Op.MEM_BEGIN:
        return this.reply(op, this.memBegin(data) ? 0 : StubError.BAD_DATA_LEN);
      case Op.MEM_DATA:
        return this.reply(op, this.memData(cmd, StubError.BAD_DATA_CHECKSUM, StubError.TOO_MUCH_DATA));
      case Op.MEM_END:
        return this.memEnd(cmd);
      case Op.FLASH_BEGIN:
      case Op.FLASH_DEFL_BEGIN:
        return this.reply(op, this.stubFlashBegin(cmd));
      case Op.FLASH_DATA:
      case Op.FLASH_DEFL_DATA:
        return this.stubFlashData(cmd);
      case Op.FLASH_END:
      case Op.FLASH_DEFL_END:
        return this.reply(op, this.stubFlashEnd(data));
      case Op.SPI_FLASH_MD5: {
        const digest = this.md5(data);
        return typeof digest === 'number' ? this.reply(op, digest) : this.reply(op, 0, digest);
      }
      case Op.GET_SECURITY_INFO:
        return this.identity.securityInfo ? this.reply(op, 0, this.identity.securityInfo) : this.reply(op, StubError.CMD_NOT_IMPLEMENTED);
      case Op.ERASE_FLASH:
        this.flash.eraseChip();
        return this.reply(op, 0);
      case Op.ERASE_REGION:
        return this.reply(op, this.eraseRegion(data));
      case Op.READ_FLASH:
        return this.startRead(data);
      case Op.RUN_USER_CODE:
        // esp-flasher-stub sends no reply and, for now, stays in the loader.
        return;
      default:
        return this.reply(op, StubError.INVALID_COMMAND);
    }
  }

  private stubFlashBegin(cmd: Command): number {
    if (cmd.data.length !== 16 && cmd.data.length !== 20) return StubError.BAD_DATA_LEN;
    const [size, , blockSize, offset] = words(cmd.data, 4) as [number, number, number, number];
    // Erasing happens as the data arrives, sector by sector, from the sector holding `offset`.
    this.openFlashOp(cmd.op === Op.FLASH_DEFL_BEGIN, offset, size, blockSize, new EraseCursor(this.flash, offset, size));
    return 0;
  }

  private async stubFlashData(cmd: Command): Promise<void> {
    const op = this.flashOp;
    if (!op || op.compressed !== (cmd.op === Op.FLASH_DEFL_DATA)) return this.reply(cmd.op, StubError.NOT_IN_FLASH_MODE);
    const checked = this.checkData(cmd);
    if (checked === 'length') return this.reply(cmd.op, StubError.TOO_MUCH_DATA);
    if (checked === 'checksum') return this.reply(cmd.op, StubError.BAD_DATA_CHECKSUM);
    // Acknowledge first, then write: a failed write is reported on the next command.
    this.reply(cmd.op, 0);
    try {
      await this.writeBlock(op, cmd.data.subarray(16));
    } catch (e) {
      this.faultLog(e);
      this.pendingError = e instanceof FlashFault ? StubError.FAILED_SPI_OP : StubError.INFLATE_ERROR;
    }
  }

  private stubFlashEnd(data: Uint8Array): number {
    if (data.length !== 4) return StubError.BAD_DATA_LEN;
    const op = this.flashOp;
    if (!op) return StubError.NOT_IN_FLASH_MODE;
    if (op.remaining !== 0) {
      this.io.log({ ev: 'flash-incomplete', offset: op.offset, remaining: op.remaining });
      return StubError.BAD_DATA_LEN;
    }
    this.closeFlashOp();
    return 0;
  }

  private eraseRegion(data: Uint8Array): number {
    if (data.length !== 8) return StubError.BAD_DATA_LEN;
    const [addr, size] = words(data, 2) as [number, number];
    if (addr % SECTOR_SIZE !== 0 || size % SECTOR_SIZE !== 0) return StubError.BAD_DATA_LEN;
    try {
      new EraseCursor(this.flash, addr, size).eraseTo(addr + size);
      return 0;
    } catch (e) {
      this.faultLog(e);
      return StubError.FAILED_SPI_OP;
    }
  }

  // READ_FLASH: after the reply, the stub sends one packet at a time and waits for the host to
  // acknowledge the running total (4-byte frames), then sends the MD5 of all it sent.
  private startRead(data: Uint8Array): void {
    if (data.length !== 16) return this.reply(Op.READ_FLASH, StubError.BAD_DATA_LEN);
    const [addr, size, packetSize] = words(data, 3) as [number, number, number];
    if (packetSize === 0 || packetSize > 4096) return this.reply(Op.READ_FLASH, StubError.BAD_DATA_LEN);
    this.reply(Op.READ_FLASH, 0);
    this.read = { addr, remaining: size, packetSize, sent: 0, total: size, hash: createHash('md5') };
    this.sendReadPacket();
  }

  private sendReadPacket(): void {
    const r = this.read!;
    if (r.remaining === 0) {
      this.io.send(r.hash.digest());
      this.io.log({ ev: 'read-flash-done', bytes: r.total });
      this.read = null;
      return;
    }
    const n = Math.min(r.remaining, r.packetSize);
    let chunk: Uint8Array;
    try {
      chunk = this.flash.read(r.addr, n);
    } catch (e) {
      this.faultLog(e);
      this.read = null;
      this.pendingError = StubError.FAILED_SPI_OP;
      return;
    }
    r.hash.update(chunk);
    r.addr += n;
    r.remaining -= n;
    r.sent += n;
    this.io.send(chunk);
  }

  private readAck(frame: Uint8Array): void {
    const r = this.read!;
    if (frame.length !== 4) {
      this.io.log({ ev: 'read-flash-aborted', reason: `ack of ${frame.length} bytes` });
      this.read = null;
      return;
    }
    const acked = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0, true);
    if (acked === r.sent) this.sendReadPacket();
  }

  // --- shared ------------------------------------------------------------------------------------

  private readReg(addr: number): number {
    if (!this.regs.isModelled(addr)) this.io.log({ ev: 'unmodelled-register', addr });
    return this.regs.read(addr);
  }

  private writeRegs(data: Uint8Array): boolean {
    if (data.length === 0 || data.length % 16 !== 0) return false;
    for (let i = 0; i < data.length; i += 16) {
      const [addr, value, mask] = words(data.subarray(i, i + 16), 3) as [number, number, number];
      let v = value & mask;
      if (mask !== 0xffffffff) v |= this.regs.read(addr) & ~mask;
      this.regs.write(addr, v >>> 0);
    }
    return true;
  }

  private setParams(data: Uint8Array): boolean {
    if (data.length !== 24) return false;
    const [, totalSize] = words(data, 2) as [number, number];
    this.io.log({ ev: 'spi-params', totalSize, modelSize: this.flash.size });
    return true;
  }

  private memBegin(data: Uint8Array): boolean {
    if (data.length !== 16) return false;
    const [size, , , offset] = words(data, 4) as [number, number, number, number];
    this.memOp = { offset, remaining: size };
    this.ram.push({ start: offset, end: offset + size });
    return true;
  }

  private memData(cmd: Command, checksumError: number, lengthError: number): number {
    const op = this.memOp;
    if (!op) return this.mode === 'rom' ? RomError.INVALID_MESSAGE : StubError.NOT_IN_FLASH_MODE;
    const checked = this.checkData(cmd);
    if (checked === 'length') return lengthError;
    if (checked === 'checksum') return checksumError;
    const len = cmd.data.length - 16;
    if (len > op.remaining) return lengthError;
    op.offset += len;
    op.remaining -= len;
    return 0;
  }

  private memEnd(cmd: Command): void {
    if (cmd.data.length !== 8) return this.reply(cmd.op, this.mode === 'rom' ? RomError.INVALID_MESSAGE : StubError.BAD_DATA_LEN);
    const [stay, entry] = words(cmd.data, 2) as [number, number];
    const incomplete = this.memOp !== null && this.memOp.remaining > 0;
    this.memOp = null;
    this.reply(cmd.op, 0);
    if (stay !== 0 || this.mode === 'stub') return;
    const loaded = this.ram.some((r) => entry >= r.start && entry < r.end);
    if (!loaded || incomplete) {
      // Jumping into RAM that was not (fully) loaded: on a real chip that is a crash.
      this.io.log({ ev: 'crash', reason: loaded ? 'entry code incomplete' : 'entry point not in loaded RAM', entry });
      this.mode = 'crashed';
      return;
    }
    this.mode = 'stub';
    this.io.log({ ev: 'stub-running', entry });
    this.io.send(OHAI);
  }

  private checkData(cmd: Command): 'ok' | 'length' | 'checksum' {
    if (cmd.data.length < 16) return 'length';
    const [len] = words(cmd.data, 1) as [number];
    const payload = cmd.data.subarray(16);
    if (len !== payload.length) return 'length';
    return dataChecksum(payload) === (cmd.checksum & 0xff) && cmd.checksum >>> 8 === 0 ? 'ok' : 'checksum';
  }

  private openFlashOp(compressed: boolean, offset: number, remaining: number, blockSize: number, erase: EraseCursor | null): void {
    this.closeFlashOp();
    this.flashOp = { compressed, offset, remaining, blockSize, nextSeq: 0, erase, inflater: compressed ? new BlockInflater() : null };
  }

  private closeFlashOp(): void {
    this.flashOp?.inflater?.close();
    this.flashOp = null;
  }

  /** Writes one block's worth of (decompressed) data at the running offset, erasing ahead of it. */
  private async writeBlock(op: FlashWrite, block: Uint8Array): Promise<void> {
    let data: Uint8Array = op.inflater ? await op.inflater.push(block) : block;
    // The stub trims the padding of the last block to the size FLASH_BEGIN announced.
    if (data.length > op.remaining) data = data.subarray(0, op.remaining);
    if (data.length === 0) return;
    op.erase?.eraseTo(op.offset + data.length);
    this.flash.program(op.offset, data);
    op.offset += data.length;
    op.remaining -= data.length;
  }

  private md5(data: Uint8Array): Buffer | number {
    if (data.length !== 16) return StubError.BAD_DATA_LEN;
    const [addr, size] = words(data, 2) as [number, number];
    try {
      return this.flash.md5(addr, size);
    } catch (e) {
      this.faultLog(e);
      return StubError.FAILED_SPI_OP;
    }
  }

  private faultLog(e: unknown): void {
    this.io.log({ ev: 'fault', mode: this.mode, message: e instanceof Error ? e.message : String(e) });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
