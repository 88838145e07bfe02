// Claim codes (broker/claim-codes.ts): six characters of the readable alphabet, each position
// uniform and independent of the others (a code is one draw spread over six positions), a code
// per device, the lookup typed on a phone, and the announcements a cluster node relays.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ClaimCodes } from '../../broker/claim-codes';

const t = suite('claim-codes');
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';

t('every code is six characters of the alphabet without look-alikes', () => {
  const codes = new ClaimCodes();
  for (let i = 0; i < 2000; i++) assert.match(codes.rotate(`dev-${i}`), /^[2-9A-HJKMNP-Z]{6}$/);
});

t('each position takes every character about equally often, and not the same as its neighbour', () => {
  const codes = new ClaimCodes();
  const draws = 31_000;
  const counts = Array.from({ length: 6 }, () => new Map<string, number>());
  let sameAsNext = 0;
  for (let i = 0; i < draws; i++) {
    const code = codes.rotate('one-device');
    for (let p = 0; p < 6; p++) counts[p]!.set(code[p]!, (counts[p]!.get(code[p]!) ?? 0) + 1);
    for (let p = 0; p < 5; p++) if (code[p] === code[p + 1]) sameAsNext++;
  }
  const expected = draws / ALPHABET.length;
  for (const [p, byChar] of counts.entries()) {
    assert.is(byChar.size, ALPHABET.length, `position ${p} uses every character`);
    // About 1,000 each, with a standard deviation near 31: a band of ±250 fails a biased draw, never a fair one.
    for (const [ch, n] of byChar) assert.ok(Math.abs(n - expected) < expected / 4, `position ${p}: ${ch} drawn ${n} times of ${draws}`);
  }
  // Independent positions repeat their neighbour 1 time in 31.
  const pairs = draws * 5;
  assert.ok(Math.abs(sameAsNext / pairs - 1 / 31) < 0.005, `neighbours equal in ${sameAsNext} of ${pairs}`);
});

t('a device has one code at a time; the lookup ignores case and spaces; a dropped code finds nothing', () => {
  const heard: [string, string | null][] = [];
  const codes = new ClaimCodes((device, code) => heard.push([device, code]));
  const first = codes.rotate('dev-1');
  const second = codes.rotate('dev-1');
  assert.is(codes.codeOf('dev-1'), second);
  if (first !== second) assert.is(codes.deviceFor(first), undefined);
  assert.is(codes.deviceFor(` ${second.toLowerCase()} `), 'dev-1');
  codes.drop('dev-1');
  assert.is(codes.deviceFor(second), undefined);
  assert.is(codes.codeOf('dev-1'), undefined);
  assert.equal(heard, [
    ['dev-1', first],
    ['dev-1', second],
    ['dev-1', null],
  ]);
});

t('a code adopted from another node is looked up but not announced again', () => {
  const heard: string[] = [];
  const codes = new ClaimCodes((device) => heard.push(device));
  codes.adopt('dev-2', 'ABC234');
  assert.is(codes.deviceFor('abc234'), 'dev-2');
  assert.equal(heard, []);
});

t.run();
