// The CSV input: ESP-IDF's column layout, Python csv quoting, '#' comment lines, file rows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseNvsCsv, readNvsCsv } from '../../host-tools/nvs/csv';
import { splitCsvRows } from '../../host-tools/nvs/csv-rows';
import type { NvsEntry } from '../../host-tools/nvs/format';
import type { NvsRecord } from '../../host-tools/nvs/writer';
import { expectNvsError } from '../helpers/nvs';

const test = suite('nvs: CSV');
const HEADER = 'key,type,encoding,value\n';
const entries = (records: NvsRecord[]): NvsEntry[] => records.flatMap((r) => (r.kind === 'entry' ? [r.entry] : []));
const parse = (body: string): NvsRecord[] => parseNvsCsv(HEADER + body, '/nonexistent');

test('rows keep the line they start on; quoted fields span lines and escape quotes by doubling', () => {
  const rows = splitCsvRows('a,b\r\n"x,1","say ""hi""\nsecond line"\n\nlast,"",\n');
  assert.equal(rows, [
    { line: 1, fields: ['a', 'b'] },
    { line: 2, fields: ['x,1', 'say "hi"\nsecond line'] },
    { line: 5, fields: ['last', '', ''] },
  ]);
});

test("lines starting with '#' are dropped, even inside a quoted value, as the reference tool filters lines first", () => {
  const rows = splitCsvRows('# comment\nk,"a\n#dropped\nb"\n');
  assert.equal(rows, [{ line: 2, fields: ['k', 'a\nb'] }]);
});

test('a quote inside an unquoted field is kept as is', () => {
  assert.equal(splitCsvRows('a"b,c\n')[0]!.fields, ['a"b', 'c']);
});

test('namespace rows open namespaces for the rows after them; encodings decode to typed entries', () => {
  const records = parse(
    [
      'fb,namespace,,',
      'n8,data,u8,255',
      'n64,data,U64,18_446_744_073_709_551_615',
      'neg,data,i64, -9223372036854775808 ',
      'app,namespace,,',
      's,data,string,  spaced value  ',
      'h,data,hex2bin, 00FFa5 ',
      'b,data,base64,AAEC/w==',
      'raw,data,binary,héllo',
      'empty,data,string,',
    ].join('\n'),
  );
  assert.equal(records[0], { kind: 'namespace', name: 'fb', origin: 'line 2' });
  assert.equal(entries(records), [
    { namespace: 'fb', key: 'n8', type: 'u8', value: 255n },
    { namespace: 'fb', key: 'n64', type: 'u64', value: 18446744073709551615n },
    { namespace: 'fb', key: 'neg', type: 'i64', value: -9223372036854775808n },
    { namespace: 'app', key: 's', type: 'string', value: '  spaced value  ' },
    { namespace: 'app', key: 'h', type: 'blob', value: Uint8Array.of(0x00, 0xff, 0xa5) },
    { namespace: 'app', key: 'b', type: 'blob', value: Uint8Array.of(0, 1, 2, 255) },
    { namespace: 'app', key: 'raw', type: 'blob', value: new TextEncoder().encode('héllo') },
    { namespace: 'app', key: 'empty', type: 'string', value: '' },
  ]);
});

test('the header may order its columns differently', () => {
  const records = parseNvsCsv('type,key,value,encoding\nnamespace,fb,,\ndata,x,7,i8\n', '/nonexistent');
  assert.equal(entries(records), [{ namespace: 'fb', key: 'x', type: 'i8', value: 7n }]);
});

test('file rows read their file relative to the CSV, for every encoding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvs-csv-'));
  try {
    writeFileSync(join(dir, 'cert.pem'), '-----BEGIN-----\nabc\n');
    writeFileSync(join(dir, 'raw.bin'), Uint8Array.of(0, 1, 254, 255));
    writeFileSync(join(dir, 'blob.hex'), 'deadBEEF\n');
    writeFileSync(join(dir, 'blob.b64'), 'AAEC\n');
    writeFileSync(join(dir, 'num.txt'), '-42\n');
    const csv = join(dir, 'in.csv');
    writeFileSync(
      csv,
      HEADER +
        'fb,namespace,,\ncert,file,string,cert.pem\nraw,file,binary,raw.bin\nhex,file,hex2bin,blob.hex\nb64,file,base64,blob.b64\nnum,file,i32,num.txt\n',
    );
    assert.equal(entries(readNvsCsv(csv)), [
      { namespace: 'fb', key: 'cert', type: 'string', value: '-----BEGIN-----\nabc\n' },
      { namespace: 'fb', key: 'raw', type: 'blob', value: Uint8Array.of(0, 1, 254, 255) },
      { namespace: 'fb', key: 'hex', type: 'blob', value: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
      { namespace: 'fb', key: 'b64', type: 'blob', value: Uint8Array.of(0, 1, 2) },
      { namespace: 'fb', key: 'num', type: 'i32', value: -42n },
    ]);
    writeFileSync(csv, HEADER + 'fb,namespace,,\nmissing,file,string,nope.txt\n');
    expectNvsError(() => readNvsCsv(csv), /^line 3: key "missing": cannot read file "nope.txt" \(.*nope\.txt\): ENOENT$/);
    writeFileSync(join(dir, 'bad.txt'), Uint8Array.of(0xc3, 0x28));
    writeFileSync(csv, HEADER + 'fb,namespace,,\nbad,file,string,bad.txt\n');
    expectNvsError(() => readNvsCsv(csv), /^line 3: key "bad": value is not valid UTF-8$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed lines are refused, naming the line', () => {
  expectNvsError(() => parse('fb,namespace,,\nk,data,string,"never closed\nmore'), /^line 3: quoted field is never closed$/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,string,"closed"trailing'), /^line 3: unexpected text after a closing quote/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,string,a,b'), /^line 3: 5 fields but the header has 4 \(quote a value that contains a comma\)$/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,string'), /^line 3: key "k" has no value column$/);
  expectNvsError(() => parse('k,data,u8,1'), /^line 2: key "k" comes before any namespace row$/);
  expectNvsError(
    () => parseNvsCsv('name,kind\nfb,namespace\n', '/x'),
    /^line 1: CSV header must name the columns key,type,encoding,value \(missing key, type, encoding, value\)$/,
  );
  expectNvsError(() => parseNvsCsv('', '/x'), /^CSV is empty/);
});

test('unknown types and encodings, and values their encoding cannot read, are refused with their line', () => {
  expectNvsError(() => parse('fb,namespace,,\nk,dat,u8,1'), /^line 3: unknown type "dat" \(expected namespace, data or file\)$/);
  expectNvsError(
    () => parse('fb,namespace,,\nk,data,u9,1'),
    /^line 3: key "k": unknown encoding "u9" \(expected u8, i8, u16, i16, u32, i32, u64, i64, string, hex2bin, base64, binary\)$/,
  );
  expectNvsError(() => parse('fb,namespace,,\nk,data,u8,0x10'), /^line 3: key "k": "0x10" is not a decimal integer for u8$/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,u8,1.0'), /not a decimal integer/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,hex2bin,abc'), /^line 3: key "k": hex2bin value has 3 digits; it needs an even number$/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,hex2bin,zz'), /^line 3: key "k": hex2bin value has a character that is not a hex digit$/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,base64,AAE'), /^line 3: key "k": base64 value is malformed/);
  expectNvsError(() => parse('fb,namespace,,\nk,data,base64,AA*='), /base64 value is malformed/);
});

test.run();
