import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { ID_PATTERN, MACHINE_CODE_PATTERN, deviceIdFromMac, normaliseId, normaliseMac, normaliseMachineCode, tryNormaliseId } from '../../protocol/ids';
import { LOOKALIKES, expectProtocolError, attempt, validId } from '../helpers/protocol';

const { BAD_ID } = ErrorCode;
const isBadId = (e: unknown): boolean => e instanceof ProtocolError && e.code === BAD_ID;

// Every non-ASCII character whose Unicode case mapping lands in ASCII letters (found by scanning all code points).
const CASE_MAPS_TO_ASCII = ['\u212a', '\u00df', '\u0131', '\u017f', '\ufb00', '\ufb01', '\ufb02', '\ufb03', '\ufb04', '\ufb05', '\ufb06'];

const ids = suite('ids: normaliseId');

ids('numbers and their decimal strings are the same id', () => {
  assert.is(normaliseId(263), '263');
  assert.is(normaliseId('263'), '263');
  assert.is(normaliseId(' 263 '), '263');
  assert.is(normaliseId(0), '0');
  fc.assert(fc.property(fc.maxSafeNat(), (n) => normaliseId(n) === String(n) && normaliseId(String(n)) === String(n)));
});

ids('trims and lower-cases', () => {
  assert.is(normaliseId(' AbC '), 'abc');
  assert.is(normaliseId('\tESP32-A4CF12B4C9E0\n'), 'esp32-a4cf12b4c9e0');
  assert.is(normaliseId('rack1.dev_2-x'), 'rack1.dev_2-x');
});

ids('any spelling of a valid id (case, surrounding spaces) normalises to that id', () => {
  const spelling = validId().chain((id) =>
    fc.tuple(fc.constant(id), fc.array(fc.boolean(), { minLength: id.length, maxLength: id.length }), fc.constantFrom('', ' ', '\t', '  \n')),
  );
  fc.assert(
    fc.property(spelling, ([id, upper, pad]) => {
      const spelled = [...id].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join('');
      assert.is(normaliseId(pad + spelled + pad), id);
    }),
  );
});

ids('whatever it accepts is canonical: matches the id pattern, has no "..", and normalises to itself', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), validId()), (s) => {
      const id = tryNormaliseId(s);
      if (id === null) return;
      assert.ok(ID_PATTERN.test(id), id);
      assert.not.ok(id.includes('..'), id);
      assert.is(normaliseId(id), id);
    }),
  );
});

ids('length limit is 64 after trimming', () => {
  assert.is(normaliseId('a'.repeat(64)), 'a'.repeat(64));
  assert.is(normaliseId(` ${'a'.repeat(64)} `), 'a'.repeat(64));
  expectProtocolError(() => normaliseId('a'.repeat(65)), BAD_ID, 'id');
});

ids('refuses empty and blank ids', () => {
  expectProtocolError(() => normaliseId(''), BAD_ID, 'id');
  expectProtocolError(() => normaliseId('   '), BAD_ID, 'id');
});

ids('refuses characters outside a-z 0-9 . _ -', () => {
  for (const bad of ['a b', 'a/b', 'a+b', 'a#b', 'agent:263', 'a@b', 'a*b', 'a\u0000b', 'a\nb']) {
    expectProtocolError(() => normaliseId(bad), BAD_ID, 'id');
  }
});

ids("refuses a leading '.', '_' or '-', and '..' anywhere", () => {
  for (const bad of ['.a', '_a', '-a', 'a..b', 'a..', '..']) expectProtocolError(() => normaliseId(bad), BAD_ID, 'id');
  assert.is(normaliseId('a.b.c'), 'a.b.c');
});

ids('refuses unicode look-alikes, including those that case-map to ASCII', () => {
  for (const [ascii, lookalike] of Object.entries(LOOKALIKES)) {
    expectProtocolError(() => normaliseId(`dev${lookalike}1`), BAD_ID, 'id');
    // The same id with the genuine character is fine, so the refusal is the look-alike's doing.
    if (/[a-z0-9.-]/.test(ascii)) assert.is(normaliseId(`dev${ascii}1`), `dev${ascii}1`);
  }
  expectProtocolError(() => normaliseId('\uff12\uff16\uff13'), BAD_ID, 'id'); // fullwidth 263
  for (const ch of CASE_MAPS_TO_ASCII) expectProtocolError(() => normaliseId(`${ch}ate`), BAD_ID, 'id');
});

ids('refuses every non-ASCII character of the Basic Multilingual Plane inside an id (trim only strips the ends)', () => {
  for (let c = 0x80; c <= 0xffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const id = tryNormaliseId(`a${String.fromCharCode(c)}b`);
    if (id !== null) assert.unreachable(`U+${c.toString(16)} was accepted as '${id}'`);
  }
});

ids('refuses negative, fractional, unsafe and non-finite numbers', () => {
  for (const bad of [-1, -263, 1.5, 0.1, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity, -Infinity]) {
    expectProtocolError(() => normaliseId(bad), BAD_ID, 'id');
  }
});

ids('refuses values that are neither strings nor numbers', () => {
  for (const bad of [null, undefined, true, {}, [], ['263'], { toString: () => '263' }, 263n]) {
    expectProtocolError(() => normaliseId(bad), BAD_ID, 'id');
  }
});

ids('names the caller-given field and subject in the refusal', () => {
  const e = expectProtocolError(() => normaliseId('', 'agent', 'agent.id'), BAD_ID, 'agent.id');
  assert.match(e.message, /^agent /);
});

ids('tryNormaliseId returns null instead of throwing', () => {
  assert.is(tryNormaliseId(' X1 '), 'x1');
  assert.is(tryNormaliseId('a..b'), null);
  assert.is(tryNormaliseId({}), null);
});

ids.run();

const codes = suite('ids: normaliseMachineCode');

codes('trims and upper-cases; numbers become their decimal string', () => {
  assert.is(normaliseMachineCode(' ct0700026 '), 'CT0700026');
  assert.is(normaliseMachineCode('ct-07_a'), 'CT-07_A');
  assert.is(normaliseMachineCode(700026), '700026');
});

codes('whatever it accepts matches the pattern and normalises to itself', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/)), (s) => {
      const code = attempt(() => normaliseMachineCode(s));
      if (code === undefined) return;
      assert.ok(MACHINE_CODE_PATTERN.test(code), code);
      assert.is(normaliseMachineCode(code), code);
    }),
  );
});

codes('refuses empty, overlong, dotted and badly started codes', () => {
  assert.is(normaliseMachineCode('A'.repeat(32)), 'A'.repeat(32));
  // A code never contains '.', because a signed label is CODE.SIG.
  for (const bad of ['', '  ', 'A'.repeat(33), 'CT.07', '-CT07', '_CT07', 'CT 07', 'CT/07']) {
    expectProtocolError(() => normaliseMachineCode(bad), BAD_ID, 'machineCode');
  }
});

codes('refuses look-alikes, including those that upper-case to ASCII', () => {
  for (const ch of [...CASE_MAPS_TO_ASCII, '\u0421', '\uff10']) {
    expectProtocolError(() => normaliseMachineCode(`CT${ch}7`), BAD_ID, 'machineCode');
  }
  for (let c = 0x80; c <= 0xffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    assert.throws(() => normaliseMachineCode(`A${String.fromCharCode(c)}B`), isBadId, `U+${c.toString(16)}`);
  }
});

codes('refuses non-string, non-integer values and names the given field', () => {
  for (const bad of [null, {}, [], -1, 1.5, true]) expectProtocolError(() => normaliseMachineCode(bad, 'machine'), BAD_ID, 'machine');
});

codes.run();

const macs = suite('ids: normaliseMac and deviceIdFromMac');

macs('accepts colon, dash, dot and bare notations in either case', () => {
  for (const mac of ['A4:CF:12:B4:C9:E0', 'a4:cf:12:b4:c9:e0', 'a4-cf-12-b4-c9-e0', 'a4cf.12b4.c9e0', 'A4CF12B4C9E0', ' a4cf12b4c9e0 ']) {
    assert.is(normaliseMac(mac), 'a4cf12b4c9e0', mac);
  }
});

macs('every notation of the same six bytes gives the same MAC', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.boolean(), (bytes, upper) => {
      const pairs = [...bytes].map((b) => b.toString(16).padStart(2, '0'));
      const bare = pairs.join('');
      const cased = (s: string): string => (upper ? s.toUpperCase() : s);
      const quads = bare.match(/.{4}/g)!.join('.');
      for (const spelled of [bare, pairs.join(':'), pairs.join('-'), quads]) assert.is(normaliseMac(cased(spelled)), bare);
    }),
  );
});

macs('refuses wrong lengths, non-hex digits and non-strings', () => {
  for (const bad of ['', 'a4:cf:12:b4:c9', 'a4cf12b4c9e', 'a4cf12b4c9e0f', 'g4cf12b4c9e0', 'a4 cf 12 b4 c9 e0', '\uff41\uff14cf12b4c9e0']) {
    expectProtocolError(() => normaliseMac(bad), BAD_ID, 'mac');
  }
  for (const bad of [0xa4cf12b4c9e0, null, {}, ['a4cf12b4c9e0']]) expectProtocolError(() => normaliseMac(bad), BAD_ID, 'mac');
  expectProtocolError(() => normaliseMac('zz', 'hello.mac'), BAD_ID, 'hello.mac');
});

macs('device ids derive from the MAC and are themselves canonical ids', () => {
  assert.is(deviceIdFromMac('A4:CF:12:B4:C9:E0'), 'esp32-a4cf12b4c9e0');
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9a-fA-F]{12}$/), (mac) => {
      const id = deviceIdFromMac(mac);
      assert.is(id, `esp32-${mac.toLowerCase()}`);
      assert.is(normaliseId(id), id);
    }),
  );
  expectProtocolError(() => deviceIdFromMac('not-a-mac'), BAD_ID, 'mac');
});

macs('no input makes the normalisers throw anything but a ProtocolError', () => {
  fc.assert(
    fc.property(fc.anything(), (v) => {
      attempt(() => normaliseId(v));
      attempt(() => normaliseMachineCode(v));
      attempt(() => normaliseMac(v));
    }),
  );
});

macs.run();
