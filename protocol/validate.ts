// Small structural validators for JSON payloads. They run on XS too, so no dependencies.
// Each throws a ProtocolError naming the field, so callers can answer with a specific error.
import { ErrorCode, ProtocolError } from './errors';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = Record<string, unknown>;

export function parseJson(text: string, code: ErrorCode = ErrorCode.BAD_REQUEST): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError(code, 'payload is not valid JSON');
  }
}

export function object(v: unknown, field = 'payload', code: ErrorCode = ErrorCode.BAD_REQUEST): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(code, `${field} must be an object`, field);
  return v as Obj;
}

interface StrOpts {
  min?: number;
  max?: number;
  pattern?: RegExp;
  code?: ErrorCode;
}
export function str(o: Obj, key: string, opts: StrOpts = {}): string {
  const v = o[key];
  const code = opts.code ?? ErrorCode.BAD_REQUEST;
  if (typeof v !== 'string') throw new ProtocolError(code, `${key} must be a string`, key);
  if (v.length < (opts.min ?? 0)) throw new ProtocolError(code, `${key} must be at least ${opts.min} characters`, key);
  if (opts.max !== undefined && v.length > opts.max) throw new ProtocolError(code, `${key} must be at most ${opts.max} characters`, key);
  if (opts.pattern && !opts.pattern.test(v)) throw new ProtocolError(code, `${key} has an invalid format`, key);
  return v;
}
export function optStr(o: Obj, key: string, opts: StrOpts = {}): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, opts);
}

interface NumOpts {
  min?: number;
  max?: number;
  integer?: boolean;
  code?: ErrorCode;
}
export function num(o: Obj, key: string, opts: NumOpts = {}): number {
  const v = o[key];
  const code = opts.code ?? ErrorCode.BAD_REQUEST;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProtocolError(code, `${key} must be a number`, key);
  if (opts.integer && !Number.isInteger(v)) throw new ProtocolError(code, `${key} must be an integer`, key);
  if (opts.min !== undefined && v < opts.min) throw new ProtocolError(code, `${key} must be at least ${opts.min}`, key);
  if (opts.max !== undefined && v > opts.max) throw new ProtocolError(code, `${key} must be at most ${opts.max}`, key);
  return v;
}
export function optNum(o: Obj, key: string, opts: NumOpts = {}): number | undefined {
  return o[key] === undefined ? undefined : num(o, key, opts);
}

export function bool(o: Obj, key: string, code: ErrorCode = ErrorCode.BAD_REQUEST): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new ProtocolError(code, `${key} must be true or false`, key);
  return v;
}
export function optBool(o: Obj, key: string, code: ErrorCode = ErrorCode.BAD_REQUEST): boolean | undefined {
  return o[key] === undefined ? undefined : bool(o, key, code);
}

export function strArray(o: Obj, key: string, opts: { maxItems?: number; item?: StrOpts } = {}): string[] {
  const v = o[key];
  const code = opts.item?.code ?? ErrorCode.BAD_REQUEST;
  if (!Array.isArray(v)) throw new ProtocolError(code, `${key} must be an array of strings`, key);
  if (opts.maxItems !== undefined && v.length > opts.maxItems) throw new ProtocolError(code, `${key} has more than ${opts.maxItems} items`, key);
  return v.map((item, i) => str({ [`${key}[${i}]`]: item }, `${key}[${i}]`, opts.item));
}

export function oneOf<T extends string>(o: Obj, key: string, values: readonly T[], code: ErrorCode = ErrorCode.BAD_REQUEST): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ProtocolError(code, `${key} must be one of: ${values.join(', ')}`, key);
  }
  return v as T;
}
