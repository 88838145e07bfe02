// Checks one typed entry and turns its value into the bytes NVS stores. Every refusal names the
// key, so a caller (the CSV reader adds the line) can point at the offending input.
import { INTEGER_TYPES, MAX_KEY_BYTES, MAX_STRING_BYTES, NvsError, integerRange, type NvsEntry, type NvsIntegerType } from './format';

export type Payload = { kind: 'integer'; type: NvsIntegerType; value: bigint } | { kind: 'string'; bytes: Uint8Array } | { kind: 'blob'; bytes: Uint8Array };

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 of a string that must survive the round trip (no lone surrogates). */
export function utf8(text: string, what: string): Uint8Array {
  const bytes = encoder.encode(text);
  if (strictDecoder.decode(bytes) !== text) throw new NvsError(`${what} is not valid Unicode (lone surrogate)`);
  return bytes;
}

export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new NvsError(`${what} is not valid UTF-8`);
  }
}

/** Keys and namespace names: 1 to 15 bytes, stored NUL-padded in a 16-byte field. */
export function nameBytes(name: string, what: 'key' | 'namespace'): Uint8Array {
  if (typeof name !== 'string' || name.length === 0) throw new NvsError(`${what} must be a non-empty string`);
  if (name.includes('\0')) throw new NvsError(`${what} "${name}" contains a NUL character`);
  const bytes = utf8(name, `${what} "${name}"`);
  if (bytes.length > MAX_KEY_BYTES) {
    throw new NvsError(`${what} "${name}" is ${bytes.length} bytes long; NVS allows at most ${MAX_KEY_BYTES}`);
  }
  return bytes;
}

export function integerPayload(type: NvsIntegerType, value: unknown, key: string): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else throw new NvsError(`key "${key}": ${type} value must be an integer (a safe integer number or a bigint), got ${String(value)}`);
  const { min, max } = integerRange(type);
  if (v < min || v > max) throw new NvsError(`key "${key}": ${v} is out of range for ${type} (${min}..${max})`);
  return v;
}

/** The string's UTF-8 plus the NUL terminator NVS stores with it. */
export function stringPayload(value: string, key: string): Uint8Array {
  if (value.includes('\0')) throw new NvsError(`key "${key}": string contains a NUL character, which would end it early on the device`);
  const text = utf8(value, `key "${key}": string`);
  if (text.length + 1 > MAX_STRING_BYTES) {
    throw new NvsError(`key "${key}": string is ${text.length} bytes; NVS strings hold at most ${MAX_STRING_BYTES - 1} bytes plus the NUL terminator`);
  }
  const bytes = new Uint8Array(text.length + 1);
  bytes.set(text);
  return bytes;
}

export function entryPayload(entry: NvsEntry): Payload {
  const { key, type, value } = entry;
  if ((INTEGER_TYPES as readonly string[]).includes(type)) {
    return { kind: 'integer', type: type as NvsIntegerType, value: integerPayload(type as NvsIntegerType, value, key) };
  }
  if (type === 'string') {
    if (typeof value !== 'string') throw new NvsError(`key "${key}": string value must be a string`);
    return { kind: 'string', bytes: stringPayload(value, key) };
  }
  if (type === 'blob') {
    if (!(value instanceof Uint8Array)) throw new NvsError(`key "${key}": blob value must be a Uint8Array`);
    return { kind: 'blob', bytes: value };
  }
  throw new NvsError(`key "${key}": unknown type "${String(type)}" (expected ${INTEGER_TYPES.join(', ')}, string or blob)`);
}
