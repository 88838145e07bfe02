// ESP-IDF's NVS CSV: a header naming key,type,encoding,value, then rows. A `namespace` row opens
// a namespace for the rows after it; `data` rows carry the value; `file` rows name a file (relative
// to the CSV) whose content is the value. Encodings: u8..i64, string, hex2bin, base64, binary.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { INTEGER_TYPES, NvsError, type NvsEntry, type NvsIntegerType } from './format';
import { splitCsvRows, type CsvRow } from './csv-rows';
import { decodeUtf8 } from './values';
import type { NvsRecord } from './writer';

const COLUMNS = ['key', 'type', 'encoding', 'value'] as const;
const ENCODINGS = [...INTEGER_TYPES, 'string', 'hex2bin', 'base64', 'binary'] as const;
type Encoding = (typeof ENCODINGS)[number];

export function readNvsCsv(path: string): NvsRecord[] {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new NvsError(`cannot read CSV ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseNvsCsv(decodeUtf8(raw, `CSV ${path}`), dirname(resolve(path)));
}

/** `baseDir` resolves relative paths of `file` rows. */
export function parseNvsCsv(text: string, baseDir: string): NvsRecord[] {
  const rows = splitCsvRows(text);
  const header = rows.shift();
  if (!header) throw new NvsError('CSV is empty: expected a header line "key,type,encoding,value"');
  const column = columnIndexes(header);

  const records: NvsRecord[] = [];
  let namespace: string | undefined;
  for (const row of rows) {
    const at = (name: (typeof COLUMNS)[number]): string | undefined => row.fields[column[name]];
    const origin = `line ${row.line}`;
    if (row.fields.length > header.fields.length) {
      throw new NvsError(`${origin}: ${row.fields.length} fields but the header has ${header.fields.length} (quote a value that contains a comma)`);
    }
    const key = at('key') ?? '';
    const type = (at('type') ?? '').toLowerCase();
    if (type === 'namespace') {
      namespace = key;
      records.push({ kind: 'namespace', name: key, origin });
      continue;
    }
    if (type !== 'data' && type !== 'file') {
      throw new NvsError(`${origin}: unknown type "${at('type') ?? ''}" (expected namespace, data or file)`);
    }
    if (namespace === undefined) throw new NvsError(`${origin}: key "${key}" comes before any namespace row`);
    const encoding = (at('encoding') ?? '').toLowerCase();
    if (!(ENCODINGS as readonly string[]).includes(encoding)) {
      throw new NvsError(`${origin}: key "${key}": unknown encoding "${at('encoding') ?? ''}" (expected ${ENCODINGS.join(', ')})`);
    }
    const value = at('value');
    if (value === undefined) throw new NvsError(`${origin}: key "${key}" has no value column`);
    try {
      const content = type === 'file' ? readValueFile(value, baseDir, key) : new TextEncoder().encode(value);
      records.push({ kind: 'entry', entry: decodeValue(namespace, key, encoding as Encoding, content), origin });
    } catch (e) {
      if (e instanceof NvsError) throw new NvsError(`${origin}: ${e.message}`);
      throw e;
    }
  }
  return records;
}

function columnIndexes(header: CsvRow): Record<(typeof COLUMNS)[number], number> {
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const missing = COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new NvsError(`line ${header.line}: CSV header must name the columns key,type,encoding,value (missing ${missing.join(', ')})`);
  }
  return { key: names.indexOf('key'), type: names.indexOf('type'), encoding: names.indexOf('encoding'), value: names.indexOf('value') };
}

function readValueFile(path: string, baseDir: string, key: string): Uint8Array {
  const full = resolve(baseDir, path);
  try {
    return readFileSync(full);
  } catch (e) {
    throw new NvsError(`key "${key}": cannot read file "${path}" (${full}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function decodeValue(namespace: string, key: string, encoding: Encoding, content: Uint8Array): NvsEntry {
  const what = `key "${key}"`;
  if (encoding === 'binary') return { namespace, key, type: 'blob', value: Uint8Array.from(content) };
  const text = decodeUtf8(content, `${what}: value`);
  if (encoding === 'string') return { namespace, key, type: 'string', value: text };
  if (encoding === 'hex2bin') return { namespace, key, type: 'blob', value: hexBytes(text, what) };
  if (encoding === 'base64') return { namespace, key, type: 'blob', value: base64Bytes(text, what) };
  return { namespace, key, type: encoding, value: decimal(text, encoding, what) };
}

/** Python's int(): optional sign, digits with single underscores between them, blanks around. */
function decimal(text: string, type: NvsIntegerType, what: string): bigint {
  const m = /^\s*([+-]?\d+(?:_\d+)*)\s*$/.exec(text);
  if (!m) throw new NvsError(`${what}: "${text}" is not a decimal integer for ${type}`);
  return BigInt(m[1]!.replaceAll('_', ''));
}

function hexBytes(text: string, what: string): Uint8Array {
  const hex = text.trim();
  if (hex.length % 2 !== 0) throw new NvsError(`${what}: hex2bin value has ${hex.length} digits; it needs an even number`);
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new NvsError(`${what}: hex2bin value has a character that is not a hex digit`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function base64Bytes(text: string, what: string): Uint8Array {
  const b64 = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new NvsError(`${what}: base64 value is malformed or not padded to a multiple of 4`);
  return Uint8Array.from(Buffer.from(b64, 'base64'));
}
