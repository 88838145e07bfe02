// The firmware's own SHA-256, SHA-512 and Ed25519 (firmware/core), which the device uses to check
// releases, against RFC 8032's vectors and node:crypto over random inputs.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ed25519Verify } from '../../firmware/core/ed25519';
import { Sha256 } from '../../firmware/core/sha256';
import { sha512 } from '../../firmware/core/sha512';

const h = (s: string): Uint8Array => Buffer.from(s, 'hex');

test('RFC 8032 test vectors 1-3 verify; any flipped bit does not', () => {
  const vectors = [
    [
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      '',
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    ],
    [
      '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      '72',
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    ],
    [
      'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
      'af82',
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    ],
  ] as const;
  for (const [pk, msg, sig] of vectors) {
    assert.ok(ed25519Verify(h(sig), h(msg), h(pk)));
    for (const bit of [0, 100, 255, 300, 511]) {
      const bad = Uint8Array.from(h(sig));
      bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7));
      assert.not.ok(ed25519Verify(bad, h(msg), h(pk)), `bit ${bit} flipped`);
    }
  }
});

test("node:crypto's signatures verify; over another message or key they do not", () => {
  const a = generateKeyPairSync('ed25519');
  const b = generateKeyPairSync('ed25519');
  const raw = (k: typeof a.publicKey): Uint8Array => k.export({ format: 'der', type: 'spki' }).subarray(12);
  for (let i = 0; i < 8; i++) {
    const msg = randomBytes(i * 97);
    const sig = sign(null, msg, a.privateKey);
    assert.ok(ed25519Verify(sig, msg, raw(a.publicKey)));
    assert.not.ok(ed25519Verify(sig, msg, raw(b.publicKey)));
    assert.not.ok(ed25519Verify(sig, Buffer.concat([msg, Buffer.from([0])]), raw(a.publicKey)));
  }
});

test('a signature with S >= L or a malformed key or length is refused', () => {
  const pk = h('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = Uint8Array.from(
    h('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'),
  );
  const big = Uint8Array.from(sig);
  big.fill(0xff, 32);
  assert.not.ok(ed25519Verify(big, new Uint8Array(0), pk));
  assert.not.ok(ed25519Verify(sig.subarray(0, 63), new Uint8Array(0), pk));
  assert.not.ok(ed25519Verify(sig, new Uint8Array(0), new Uint8Array(32).fill(0xff)));
});

test('SHA-256 (in uneven pieces) and SHA-512 agree with node:crypto at every padding boundary', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1_000, 70_001]) {
    const data = randomBytes(n);
    const s = new Sha256();
    for (let at = 0; at < n; at += 1 + (at % 71)) s.update(data.subarray(at, Math.min(n, at + 1 + (at % 71))));
    assert.is(Buffer.from(s.digest()).toString('hex'), createHash('sha256').update(data).digest('hex'), `sha256 of ${n} bytes`);
    assert.is(Buffer.from(sha512(data)).toString('hex'), createHash('sha512').update(data).digest('hex'), `sha512 of ${n} bytes`);
  }
});

test.run();
