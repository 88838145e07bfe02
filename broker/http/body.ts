// Request-body access with specific errors; fastify gives us `unknown`.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { type Obj, object } from '../../protocol/validate';

export function bodyOf(body: unknown): Obj {
  if (body === undefined || body === null) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'request body must be a JSON object');
  return object(body, 'body');
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds from a number of seconds or a string such as "45s", "30m", "12h", "7d". */
export function durationSeconds(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v === 'string') {
    const m = /^(\d+)\s*([smhdw])$/.exec(v.trim());
    if (m && Number(m[1]) > 0) return Number(m[1]) * UNITS[m[2]!]!;
  }
  throw new ProtocolError(ErrorCode.BAD_REQUEST, `${field} must be a positive number of seconds or a duration such as 30m, 12h, 7d`, field);
}

/** A positive integer from a query string or path segment, at most `max`. */
export function optInt(v: string | undefined, field: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ProtocolError(ErrorCode.BAD_REQUEST, `${field} must be an integer from 1 to ${max}`, field);
  return n;
}
