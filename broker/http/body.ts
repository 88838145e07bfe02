// Request-body access with specific errors; fastify gives us `unknown`.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { type Obj, object } from '../../protocol/validate';

export function bodyOf(body: unknown): Obj {
  if (body === undefined || body === null) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'request body must be a JSON object');
  return object(body, 'body');
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** The longest duration any request may name: a year. */
export const MAX_DURATION_SECONDS = 366 * 86400;

/** Seconds from a number of seconds or a string such as "45s", "30m", "12h", "7d"; at most `max`. */
export function durationSeconds(v: unknown, field: string, max = MAX_DURATION_SECONDS): number {
  let seconds: number | null = null;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) seconds = v;
  if (typeof v === 'string') {
    const m = /^(\d{1,12})\s*([smhdw])$/.exec(v.trim());
    if (m && Number(m[1]) > 0) seconds = Number(m[1]) * UNITS[m[2]!]!;
  }
  if (seconds === null)
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `${field} must be a positive number of seconds or a duration such as 30m, 12h, 7d`, field);
  if (seconds > max) throw new ProtocolError(ErrorCode.BAD_REQUEST, `${field} must be at most ${max} seconds (${Math.floor(max / 86400)} days)`, field);
  return seconds;
}

/** The path of a key that could poison prototypes ("__proto__", or "prototype" under "constructor"), if any. */
function prototypeKey(v: unknown, path: string): string | null {
  if (v === null || typeof v !== 'object') return null;
  for (const [k, child] of Object.entries(v)) {
    const here = path === '' ? k : `${path}.${k}`;
    if (k === '__proto__') return here;
    if (k === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) return `${here}.prototype`;
    const deeper = prototypeKey(child, here);
    if (deeper !== null) return deeper;
  }
  return null;
}

/** The JSON body parser: malformed JSON and prototype-poisoning keys each get their own message. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'request body is empty; send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'request body is not valid JSON');
  }
  const bad = prototypeKey(value, '');
  if (bad !== null) throw new ProtocolError(ErrorCode.BAD_REQUEST, `request body must not contain the key "${bad}": it could change object prototypes`, bad);
  return value;
}

/** A positive integer from a query string or path segment, at most `max`. */
export function optInt(v: string | undefined, field: string, max: number, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `${field} must be an integer from ${min} to ${max}`, field);
  return n;
}
