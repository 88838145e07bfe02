// Command and response packets of the ESP32 serial loader protocol (esptool docs, "Serial
// Protocol"; opcodes as in esptool-js 0.7.0 lib/esploader.js and esp-flasher-stub src/commands.h).
export const Op = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;

const NAMES = new Map<number, string>(Object.entries(Op).map(([name, op]) => [op, name]));

export function opName(op: number): string {
  return NAMES.get(op) ?? `0x${op.toString(16).padStart(2, '0')}`;
}

export interface Command {
  op: number;
  /** The size field of the header; a correct packet has exactly this many data bytes. */
  size: number;
  checksum: number;
  data: Uint8Array;
}

export const HEADER_SIZE = 8;

/** Parses a SLIP payload sent by the host; null when it is not a request packet. */
export function parseCommand(frame: Uint8Array): Command | null {
  if (frame.length < HEADER_SIZE || frame[0] !== 0x00) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { op: frame[1]!, size: view.getUint16(2, true), checksum: view.getUint32(4, true), data: frame.subarray(HEADER_SIZE) };
}

/** Header (direction, op, size, 32-bit word: checksum in a request, value in a response) and body. */
function packet(direction: 0 | 1, op: number, word: number, body: Uint8Array): Uint8Array {
  const pkt = new Uint8Array(HEADER_SIZE + body.length);
  const view = new DataView(pkt.buffer);
  pkt[0] = direction;
  pkt[1] = op;
  view.setUint16(2, body.length, true);
  view.setUint32(4, word >>> 0, true);
  pkt.set(body, HEADER_SIZE);
  return pkt;
}

export function encodeCommand(op: number, data: Uint8Array = new Uint8Array(0), checksum = 0): Uint8Array {
  return packet(0, op, checksum, data);
}

export function encodeResponse(op: number, value: number, body: Uint8Array): Uint8Array {
  return packet(1, op, value, body);
}

export interface Response {
  op: number;
  value: number;
  body: Uint8Array;
}

export function parseResponse(frame: Uint8Array): Response | null {
  if (frame.length < HEADER_SIZE || frame[0] !== 0x01) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { op: frame[1]!, value: view.getUint32(4, true), body: frame.subarray(HEADER_SIZE) };
}

/** The data-command checksum: 0xEF XOR every byte of the data to write (not the 16-byte header). */
export function dataChecksum(data: Uint8Array): number {
  let state = 0xef;
  for (const b of data) state ^= b;
  return state;
}

export function words(data: Uint8Array, count: number): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Array.from({ length: count }, (_, i) => view.getUint32(i * 4, true));
}

export function u32le(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (const [i, v] of values.entries()) view.setUint32(i * 4, v >>> 0, true);
  return out;
}

/** The body of a _DATA command: length, sequence number, two zero words, then the data. */
export function dataPayload(data: Uint8Array, seq: number): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  out.set(u32le(data.length, seq, 0, 0));
  out.set(data, 16);
  return out;
}
