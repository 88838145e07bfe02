// The one place where identifiers are normalised. Every entry point (MQTT usernames, topics,
// REST bodies, CLI flags, firmware config) goes through these, so 263 and " 263 " are "263".
import { ErrorCode, ProtocolError } from './errors';

export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MACHINE_CODE_PATTERN = /^[A-Z0-9][A-Z0-9_-]{0,31}$/;
export const MAC_PATTERN = /^[0-9a-f]{12}$/;
// Case mapping is Unicode-aware: the Kelvin sign U+212A lower-cases to 'k', and U+00DF, U+017F,
// U+0131 and the ligatures U+FB00-FB06 upper-case to ASCII letters, so a look-alike would normalise
// into a valid id or code. Non-ASCII input is refused before any case mapping.
// Written as a positive range: XS 13 matches every character with the negated class [^\x00-\x7f],
// which refused every id on the device (found by test/xs).
const NON_ASCII = /[\u0080-\uffff]/;

function asText(value: unknown, what: string, field: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  throw new ProtocolError(ErrorCode.BAD_ID, `${what} must be a string or a non-negative integer`, field);
}

/** Agent, device and admin ids: trimmed, lower-cased, `[a-z0-9][a-z0-9._-]{0,63}`. */
export function normaliseId(value: unknown, what = 'id', field = 'id'): string {
  const text = asText(value, what, field).trim();
  const id = text.toLowerCase();
  if (id.length === 0) throw new ProtocolError(ErrorCode.BAD_ID, `${what} is empty`, field);
  if (id.length > 64) throw new ProtocolError(ErrorCode.BAD_ID, `${what} is longer than 64 characters`, field);
  if (NON_ASCII.test(text) || !ID_PATTERN.test(id)) {
    throw new ProtocolError(ErrorCode.BAD_ID, `${what} may contain only a-z, 0-9, '.', '_' and '-', and must start with a letter or digit`, field);
  }
  if (id.includes('..')) throw new ProtocolError(ErrorCode.BAD_ID, `${what} must not contain '..'`, field);
  return id;
}

/** Returns the normalised id, or null when the value is not a valid id. */
export function tryNormaliseId(value: unknown): string | null {
  try {
    return normaliseId(value);
  } catch {
    return null;
  }
}

/** Machine codes are human labels printed on machines: trimmed, upper-cased, `[A-Z0-9][A-Z0-9_-]{0,31}`. */
export function normaliseMachineCode(value: unknown, field = 'machineCode'): string {
  const text = asText(value, 'machine code', field).trim();
  const code = text.toUpperCase();
  if (NON_ASCII.test(text) || !MACHINE_CODE_PATTERN.test(code)) {
    throw new ProtocolError(ErrorCode.BAD_ID, 'machine code must be 1-32 characters of A-Z, 0-9, "_" or "-"', field);
  }
  return code;
}

/** MAC addresses in any usual notation become 12 lower-case hex digits. */
export function normaliseMac(value: unknown, field = 'mac'): string {
  if (typeof value !== 'string') throw new ProtocolError(ErrorCode.BAD_ID, 'MAC address must be a string', field);
  const mac = value
    .trim()
    .toLowerCase()
    .replace(/[:\-.]/g, '');
  if (!MAC_PATTERN.test(mac)) throw new ProtocolError(ErrorCode.BAD_ID, 'MAC address must be 12 hex digits', field);
  return mac;
}

/** Device ids derive from the MAC: esp32-a4cf12b4c9e0. */
export function deviceIdFromMac(mac: string): string {
  return `esp32-${normaliseMac(mac)}`;
}
