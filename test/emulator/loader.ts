// The serial loader an ESP32 runs in download mode, as the host sees it: first the ROM loader,
// then, once the host has loaded code into RAM and jumped to it, the flasher stub. One command set,
// spoken in two dialects (dialects.ts). Other differences handled here:
// - the ROM answers SYNC with value 0x20120707, the stub with 0 (how hosts tell them apart);
// - the ROM erases the whole region on *_BEGIN; the stub erases sector by sector as data arrives;
// - the stub acknowledges a data block, then writes it, and reports a failed write as the status
//   of the next command, which it then does not execute (esp-flasher-stub's accumulated_result);
// - the ROM's FLASH_END leaves the loader; the stub's does not;
// - only the stub reads flash (READ_FLASH), erases on request, and says OHAI when it starts.
import type { ChipIdentity, ChipRegisters } from './chip';
import { describeCommand } from './command-log';
import { ROM, STUB, STUB_NOT_IMPLEMENTED, type Dialect, type Fault } from './dialects';
import { EraseCursor, FlashFault, SECTOR_SIZE, type FlashMemory } from './flash-memory';
import { FlashReader } from './flash-reader';
import { BlockInflater } from './inflater';
import { Op, dataChecksum, encodeResponse, opName, parseCommand, words, type Command } from './protocol';

/** 'crashed': the host jumped into RAM that holds no (complete) code; nothing answers until a reset. */
export type LoaderMode = 'rom' | 'stub' | 'crashed';

const SYNC_BODY = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]);
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
  nextSeq: number;
  erase: EraseCursor | null;
  inflater: BlockInflater | null;
}

/** A command refused with a fault; the loader turns it into its own error code. */
class Refusal extends Error {
  constructor(readonly fault: Fault) {
    super(fault);
  }
}

export class Loader {
  mode: LoaderMode = 'rom';
  private flashOp: FlashWrite | null = null;
  private memOp: { remaining: number } | null = null;
  private reader: FlashReader | null = null;
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

  private get dialect(): Dialect {
    return this.mode === 'rom' ? ROM : STUB;
  }

  async handle(frame: Uint8Array): Promise<void> {
    if (this.mode === 'crashed') return;
    if (this.reader) {
      if (!this.reader.ack(frame)) this.reader = null;
      return;
    }
    const cmd = parseCommand(frame);
    if (!cmd) {
      this.io.log({ ev: 'bad-packet', mode: this.mode, bytes: frame.length });
      // The stub answers a packet that is not a request with INVALID_COMMAND; the ROM stays silent.
      if (this.mode === 'stub' && frame.length >= 8) this.reply(frame[1]!, STUB.codes.unknown);
      return;
    }
    this.io.log({ ev: 'command', mode: this.mode, op: opName(cmd.op), ...describeCommand(cmd) });
    if (this.dialect.lacks(cmd.op)) return this.unsupported(cmd.op);
    if (cmd.data.length !== cmd.size) return this.reply(cmd.op, this.dialect.codes.length);
    if (this.pendingError !== 0) {
      const status = this.pendingError;
      this.pendingError = 0;
      return this.reply(cmd.op, status);
    }
    try {
      await this.execute(cmd);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      this.reply(cmd.op, this.dialect.codes[e.fault]);
    }
  }

  private async execute(cmd: Command): Promise<void> {
    const { op, data } = cmd;
    const need = (...sizes: number[]): void => {
      if (!sizes.includes(data.length)) throw new Refusal('length');
    };
    switch (op) {
      case Op.SYNC:
        need(36);
        if (this.mode === 'rom') {
          if (!data.every((b, i) => b === SYNC_BODY[i])) throw new Refusal('length');
          this.io.autobaud();
        }
        for (let i = 0; i < 8; i++) this.reply(op, 0, new Uint8Array(0), this.mode === 'rom' ? ROM_SYNC_VALUE : 0);
        return;
      case Op.READ_REG:
        need(4);
        return this.reply(op, 0, new Uint8Array(0), this.readReg(words(data, 1)[0]!));
      case Op.WRITE_REG:
        if (data.length === 0 || data.length % 16 !== 0) throw new Refusal('length');
        this.writeRegs(data);
        return this.reply(op, 0);
      case Op.SPI_ATTACH:
        need(...this.dialect.spiAttachSizes);
        return this.reply(op, 0);
      case Op.SPI_SET_PARAMS:
        need(24);
        this.io.log({ ev: 'spi-params', totalSize: words(data, 2)[1], modelSize: this.flash.size });
        return this.reply(op, 0);
      case Op.CHANGE_BAUDRATE:
        need(8);
        this.reply(op, 0);
        return this.io.setBaud(words(data, 1)[0]!);
      case Op.MEM_BEGIN:
        return this.memBegin(cmd);
      case Op.MEM_DATA:
        return this.memData(cmd);
      case Op.MEM_END:
        return this.memEnd(cmd);
      case Op.FLASH_BEGIN:
      case Op.FLASH_DEFL_BEGIN:
        return this.flashBegin(cmd);
      case Op.FLASH_DATA:
      case Op.FLASH_DEFL_DATA:
        return this.flashData(cmd);
      case Op.FLASH_END:
      case Op.FLASH_DEFL_END:
        return this.flashEnd(cmd);
      case Op.SPI_FLASH_MD5: {
        need(16);
        const [addr, size] = words(data, 2) as [number, number];
        return this.reply(op, 0, this.dialect.md5Body(this.withFlash('spi-read', () => this.flash.md5(addr, size))));
      }
      case Op.GET_SECURITY_INFO:
        need(0);
        if (this.identity.securityInfo) return this.reply(op, 0, this.identity.securityInfo);
        return this.mode === 'rom' ? this.unsupported(op) : this.reply(op, STUB_NOT_IMPLEMENTED);
      case Op.ERASE_FLASH:
        this.flash.eraseChip();
        return this.reply(op, 0);
      case Op.ERASE_REGION: {
        need(8);
        const [addr, size] = words(data, 2) as [number, number];
        if (addr % SECTOR_SIZE !== 0 || size % SECTOR_SIZE !== 0) throw new Refusal('length');
        this.withFlash('spi-write', () => new EraseCursor(this.flash, addr, size).eraseTo(addr + size));
        return this.reply(op, 0);
      }
      case Op.READ_FLASH: {
        need(16);
        const [addr, size, packetSize] = words(data, 3) as [number, number, number];
        if (packetSize === 0 || packetSize > 4096) throw new Refusal('length');
        this.reply(op, 0);
        this.reader = new FlashReader(this.flash, addr, size, packetSize, this.io, (status) => {
          this.pendingError = status;
        });
        if (this.reader.sendNext()) return;
        this.reader = null;
        return;
      }
      case Op.RUN_USER_CODE:
        // esp-flasher-stub sends no reply and, for now, stays in the loader.
        return;
      default:
        throw new Refusal('unknown');
    }
  }

  // --- replies -----------------------------------------------------------------------------------

  private reply(op: number, status: number, data: Uint8Array = new Uint8Array(0), value = 0): void {
    const tail = this.dialect.statusBytes(status);
    const body = new Uint8Array(data.length + tail.length);
    body.set(data);
    body.set(tail, data.length);
    this.io.send(encodeResponse(op, value, body));
    if (status !== 0) this.io.log({ ev: 'error-reply', mode: this.mode, op: opName(op), status });
  }

  /** The ROM's reply to a command it does not implement: status 1, error 0x05, sent 8 times. */
  private unsupported(op: number): void {
    this.io.log({ ev: 'unsupported', mode: this.mode, op: opName(op) });
    // The ROM's op byte in this reply is not documented; esptool (loader.py command()) and
    // esptool-js (readPacket) only rely on it differing from the request, with status 1/0x05.
    const pkt = encodeResponse(0x00, 0, Uint8Array.from(ROM.statusBytes(ROM.codes.unknown)));
    for (let i = 0; i < 8; i++) this.io.send(pkt);
  }

  // --- RAM ---------------------------------------------------------------------------------------

  private memBegin(cmd: Command): void {
    if (cmd.data.length !== 16) throw new Refusal('length');
    const [size, , , offset] = words(cmd.data, 4) as [number, number, number, number];
    this.memOp = { remaining: size };
    this.ram.push({ start: offset, end: offset + size });
    this.reply(cmd.op, 0);
  }

  private memData(cmd: Command): void {
    if (!this.memOp) throw new Refusal('state');
    const payload = this.checkedPayload(cmd);
    if (payload.length > this.memOp.remaining) throw new Refusal('too-much');
    this.memOp.remaining -= payload.length;
    this.reply(cmd.op, 0);
  }

  private memEnd(cmd: Command): void {
    if (cmd.data.length !== 8) throw new Refusal('length');
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

  // --- flash -------------------------------------------------------------------------------------

  private flashBegin(cmd: Command): void {
    if (cmd.data.length !== 16 && cmd.data.length !== 20) throw new Refusal('length');
    const [size, , , offset] = words(cmd.data, 4) as [number, number, number, number];
    const compressed = cmd.op === Op.FLASH_DEFL_BEGIN;
    this.closeFlashOp();
    if (this.mode === 'rom') {
      // The ROM erases the region before it acknowledges, and writes whole blocks, padding included.
      this.withFlash('spi-write', () => new EraseCursor(this.flash, offset, size).eraseTo(offset + size));
      this.flashOp = { compressed, offset, remaining: Number.MAX_SAFE_INTEGER, nextSeq: 0, erase: null, inflater: compressed ? new BlockInflater() : null };
    } else {
      this.flashOp = {
        compressed,
        offset,
        remaining: size,
        nextSeq: 0,
        erase: new EraseCursor(this.flash, offset, size),
        inflater: compressed ? new BlockInflater() : null,
      };
    }
    this.reply(cmd.op, 0);
  }

  private async flashData(cmd: Command): Promise<void> {
    const op = this.flashOp;
    if (!op || op.compressed !== (cmd.op === Op.FLASH_DEFL_DATA)) throw new Refusal('state');
    const payload = this.checkedPayload(cmd);
    const seq = words(cmd.data, 2)[1]!;
    if (this.mode === 'rom' && seq !== op.nextSeq) throw new Refusal('state');
    op.nextSeq++;
    if (this.dialect.acksBeforeWrite) {
      this.reply(cmd.op, 0);
      try {
        await this.writeBlock(op, payload);
      } catch (e) {
        this.pendingError = this.dialect.codes[this.faultOf(e)];
      }
      return;
    }
    try {
      await this.writeBlock(op, payload);
    } catch (e) {
      throw new Refusal(this.faultOf(e));
    }
    this.reply(cmd.op, 0);
  }

  private flashEnd(cmd: Command): void {
    if (cmd.data.length !== 4) throw new Refusal('length');
    const op = this.flashOp;
    if (!op) throw new Refusal('state');
    if (this.mode === 'stub' && op.remaining !== 0) {
      this.io.log({ ev: 'flash-incomplete', offset: op.offset, remaining: op.remaining });
      throw new Refusal('incomplete');
    }
    this.closeFlashOp();
    this.reply(cmd.op, 0);
    if (this.mode === 'rom') this.io.leave(words(cmd.data, 1)[0] === 0 ? 'reboot' : 'run-user-code');
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

  private closeFlashOp(): void {
    this.flashOp?.inflater?.close();
    this.flashOp = null;
  }

  // --- shared ------------------------------------------------------------------------------------

  /** The data of a *_DATA command, after checking its length word and checksum. */
  private checkedPayload(cmd: Command): Uint8Array {
    if (cmd.data.length < 16) throw new Refusal('length');
    const payload = cmd.data.subarray(16);
    if (words(cmd.data, 1)[0] !== payload.length) throw new Refusal(this.mode === 'rom' ? 'length' : 'too-much');
    // The checksum word must hold the 8-bit checksum and nothing else.
    if (dataChecksum(payload) !== cmd.checksum) throw new Refusal('checksum');
    return payload;
  }

  private faultOf(e: unknown): Fault {
    this.io.log({ ev: 'fault', mode: this.mode, message: e instanceof Error ? e.message : String(e) });
    return e instanceof FlashFault ? 'spi-write' : 'inflate';
  }

  /** Runs a flash operation; an SPI failure refuses the command with `fault`. */
  private withFlash<T>(fault: Fault, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof FlashFault)) throw e;
      this.io.log({ ev: 'fault', mode: this.mode, message: e.message });
      throw new Refusal(fault);
    }
  }

  private readReg(addr: number): number {
    if (!this.regs.isModelled(addr)) this.io.log({ ev: 'unmodelled-register', addr });
    return this.regs.read(addr);
  }

  private writeRegs(data: Uint8Array): void {
    for (let i = 0; i < data.length; i += 16) {
      const [addr, value, mask] = words(data.subarray(i, i + 16), 3) as [number, number, number];
      let v = value & mask;
      if (mask !== 0xffffffff) v |= this.regs.read(addr) & ~mask;
      this.regs.write(addr, v >>> 0);
    }
  }
}
