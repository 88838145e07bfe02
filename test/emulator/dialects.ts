// Where the ESP32 ROM loader and the flasher stub answer the same command differently: status
// bytes, error codes, which commands exist, and the size rules they check.
// ROM: esptool docs "Serial Protocol" (4 status bytes on ESP32; "ROM Loader Errors").
// Stub: esp-flasher-stub src/command_handler.c and commands.h (the stub esptool-js 0.7.0 ships):
// 2 status bytes, the big-endian response code 0xC?00 whose high byte leads.
import { Op } from './protocol';

/** What went wrong, before each loader spells it in its own code. */
export type Fault = 'length' | 'checksum' | 'state' | 'spi-write' | 'spi-read' | 'inflate' | 'incomplete' | 'too-much' | 'unknown';

export interface Dialect {
  name: 'rom' | 'stub';
  codes: Record<Fault, number>;
  statusBytes(code: number): number[];
  /** Commands this loader does not implement at all (the ROM's "invalid message" case). */
  lacks(op: number): boolean;
  spiAttachSizes: number[];
  /** The stub acknowledges a data block before writing it (double buffering); the ROM after. */
  acksBeforeWrite: boolean;
  /** MD5 as the ROM sends it (32 hex characters) or the stub (16 raw bytes). */
  md5Body(digest: Buffer): Uint8Array;
}

export const ROM: Dialect = {
  name: 'rom',
  codes: {
    length: 0x05,
    checksum: 0x07,
    state: 0x05,
    'spi-write': 0x08,
    'spi-read': 0x09,
    inflate: 0x0b,
    incomplete: 0x05,
    'too-much': 0x05,
    unknown: 0x05,
  },
  statusBytes: (code) => [code === 0 ? 0 : 1, code, 0, 0],
  lacks: (op) => [Op.ERASE_FLASH, Op.ERASE_REGION, Op.READ_FLASH, Op.RUN_USER_CODE].includes(op as never) || !Object.values(Op).includes(op as never),
  // The ROM takes the pin word plus 4 zero bytes; esptool-js sends only the pin word.
  spiAttachSizes: [4, 8],
  acksBeforeWrite: false,
  md5Body: (digest) => new TextEncoder().encode(digest.toString('hex')),
};

export const STUB: Dialect = {
  name: 'stub',
  codes: {
    length: 0xc0,
    checksum: 0xc1,
    state: 0xc6,
    'spi-write': 0xc4,
    'spi-read': 0xc4,
    inflate: 0xc7,
    // esp-flasher-stub answers *_END before all data came with BAD_DATA_LEN.
    incomplete: 0xc0,
    'too-much': 0xc9,
    unknown: 0xc3,
  },
  statusBytes: (code) => [code, 0],
  lacks: () => false,
  spiAttachSizes: [4],
  acksBeforeWrite: true,
  md5Body: (digest) => digest,
};

/** The stub's answer to a command it knows but this chip cannot do (GET_SECURITY_INFO on an ESP32). */
export const STUB_NOT_IMPLEMENTED = 0xff;
