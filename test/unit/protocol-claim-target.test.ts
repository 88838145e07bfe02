import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { labelPath, parseClaimTarget } from '../../protocol/claim-target';
import { ErrorCode } from '../../protocol/errors';
import { normaliseId, normaliseMachineCode } from '../../protocol/ids';
import { expectProtocolError, attempt } from '../helpers/protocol';

const { BAD_REQUEST, UNKNOWN_MACHINE } = ErrorCode;
const SIG = '0123456789abcdef';
const LABEL = { kind: 'label', code: 'CT0700026', sig: SIG };

const validCode = fc.stringMatching(/^[A-Z0-9][A-Z0-9_-]{0,31}$/);
const validSig = fc.stringMatching(/^[0-9a-f]{16}$/);

const labels = suite('claim target: labels');

labels('a label URL gives the code and signature', () => {
  assert.equal(parseClaimTarget(`https://fleet.example${labelPath('CT0700026', SIG)}`), LABEL);
  assert.equal(parseClaimTarget(`https://fleet.example/c/CT0700026.${SIG}`), LABEL);
  assert.equal(parseClaimTarget(`  http://10.0.0.5:8080/c/CT0700026.${SIG}\n`), LABEL);
  assert.equal(parseClaimTarget(`https://fleet.example/app/c/ct0700026.${SIG.toUpperCase()}`), LABEL, 'code upper-cased, signature lower-cased');
});

labels('query strings and fragments are ignored, even when they contain /c/', () => {
  for (const tail of ['?src=qr', '?src=qr&site=7', '#top', '?a=1#b', `?next=/c/OTHER.${'f'.repeat(16)}`, `#/c/OTHER.${'f'.repeat(16)}`]) {
    assert.equal(parseClaimTarget(`https://fleet.example/c/CT0700026.${SIG}${tail}`), LABEL, tail);
  }
});

labels('CODE.SIG without a URL is a label', () => {
  assert.equal(parseClaimTarget(`CT0700026.${SIG}`), LABEL);
  assert.equal(parseClaimTarget(` ct0700026.${SIG} `), LABEL);
});

labels('any code and signature survive labelPath and parse back, as URL or CODE.SIG', () => {
  fc.assert(
    fc.property(validCode, validSig, fc.constantFrom('', '?src=qr', '#x'), (code, sig, tail) => {
      const expected = { kind: 'label', code, sig };
      assert.equal(parseClaimTarget(`https://h.example${labelPath(code, sig)}${tail}`), expected);
      assert.equal(parseClaimTarget(`${code}.${sig}`), expected);
    }),
  );
});

labels('a label URL with a malformed code or signature is UNKNOWN_MACHINE', () => {
  for (const rest of [
    `CT07!!.${SIG}`,
    `CT.07.${SIG}`,
    `${'C'.repeat(33)}.${SIG}`,
    `.${SIG}`,
    `-CT07.${SIG}`,
    `CT\u0421707.${SIG}`,
    'CT0700026',
    'CT0700026.',
    'CT0700026.0123',
    `CT0700026.${SIG}0`,
    'CT0700026.0123456789abcdeg',
    '',
  ]) {
    expectProtocolError(() => parseClaimTarget(`https://fleet.example/c/${rest}`), UNKNOWN_MACHINE, 'target');
  }
});

labels('CODE.SIG with a malformed code is UNKNOWN_MACHINE', () => {
  for (const text of [`CT07!!.${SIG}`, `CT 07.${SIG}`, `_CT07.${SIG}`, `\u017fx.${SIG}`])
    expectProtocolError(() => parseClaimTarget(text), UNKNOWN_MACHINE, 'target');
});

labels('any label URL whose code is not a machine code is UNKNOWN_MACHINE', () => {
  const badCode = fc.string({ minLength: 1 }).filter((s) => !/[?#]/.test(s) && !s.includes('/c/') && attempt(() => normaliseMachineCode(s)) === undefined);
  fc.assert(
    fc.property(badCode, validSig, (code, sig) => {
      expectProtocolError(() => parseClaimTarget(`https://fleet.example/c/${code}.${sig}`), UNKNOWN_MACHINE, 'target');
    }),
  );
});

labels.run();

const plain = suite('claim target: codes, device ids and numbers');

plain('a bare machine code is both a code and a device-id spelling', () => {
  assert.equal(parseClaimTarget('CT0700026'), { kind: 'plain', code: 'CT0700026', device: 'ct0700026' });
  assert.equal(parseClaimTarget(' ct0700026 '), { kind: 'plain', code: 'CT0700026', device: 'ct0700026' });
});

plain('a device id is a plain target; one with a dot cannot be a machine code', () => {
  assert.equal(parseClaimTarget('ESP32-A4CF12B4C9E0'), { kind: 'plain', code: 'ESP32-A4CF12B4C9E0', device: 'esp32-a4cf12b4c9e0' });
  assert.equal(parseClaimTarget('rack1.dev'), { kind: 'plain', code: null, device: 'rack1.dev' });
  assert.equal(parseClaimTarget('CT0700026.zz'), { kind: 'plain', code: null, device: 'ct0700026.zz' }, 'a dot without a signature is an id');
});

plain('numbers are ids and codes, as they are everywhere else', () => {
  assert.equal(parseClaimTarget(263), { kind: 'plain', code: '263', device: '263' });
  assert.equal(parseClaimTarget(0), { kind: 'plain', code: '0', device: '0' });
  assert.equal(parseClaimTarget(263), parseClaimTarget('263'));
});

plain('whatever it returns carries canonical names', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/), fc.maxSafeNat()), (raw) => {
      const t = attempt(() => parseClaimTarget(raw));
      if (t === undefined) return;
      if (t.kind === 'label') {
        assert.is(normaliseMachineCode(t.code), t.code);
        assert.match(t.sig, /^[0-9a-f]{16}$/);
        return;
      }
      assert.ok(t.code !== null || t.device !== null, 'a plain target names something');
      if (t.device !== null) assert.is(normaliseId(t.device), t.device);
      if (t.code !== null) assert.is(normaliseMachineCode(t.code), t.code);
    }),
  );
});

plain('anything that is neither a name nor a label is BAD_REQUEST on target', () => {
  for (const bad of [
    null,
    undefined,
    {},
    [],
    ['CT0700026'],
    true,
    -1,
    1.5,
    NaN,
    Infinity,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    '   ',
    'hello world',
    '???',
    '-x',
    '.x',
    'a..b#',
    'https://fleet.example/x/CT07',
    '\u0430\u0431',
  ]) {
    expectProtocolError(() => parseClaimTarget(bad), BAD_REQUEST, 'target');
  }
});

plain('no input makes it throw anything but a ProtocolError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.string(), fc.double()), (v) => {
      attempt(() => parseClaimTarget(v));
    }),
  );
});

plain.run();
