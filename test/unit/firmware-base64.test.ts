import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBase64, encodeBase64 } from '../../firmware/core/base64';

const test = suite('firmware base64');

test('encodes exactly like Node and decodes back, for any bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const text = encodeBase64(bytes);
      assert.is(text, Buffer.from(bytes).toString('base64'));
      assert.equal(decodeBase64(text), bytes);
    }),
  );
});

test('refuses text that is not base64', () => {
  assert.throws(() => decodeBase64('abc'), /multiple of 4/);
  assert.throws(() => decodeBase64('ab$='), /invalid base64 character at 2/);
  assert.throws(() => decodeBase64('abé='), /invalid base64 character at 2/);
});

test.run();
