import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff, DEFAULT_BACKOFF, backoffCeiling, backoffDelay, checkBackoffOptions } from '../../firmware/core/backoff';

const test = suite('firmware backoff');
const O = { baseMs: 1_000, capMs: 30_000, factor: 2, jitter: 0.5 };

test('the ceiling doubles from the base and stops at the cap', () => {
  assert.equal(
    [0, 1, 2, 3, 4, 5, 6, 50, 10_000].map((n) => backoffCeiling(n, O)),
    [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000],
  );
});

test('every delay lies in [ceiling × (1 − jitter), ceiling], never above the cap', () => {
  const options = fc.record({
    baseMs: fc.integer({ min: 1, max: 10_000 }),
    extra: fc.integer({ min: 0, max: 600_000 }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  fc.assert(
    fc.property(options, fc.integer({ min: 0, max: 5_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (o, attempt, r) => {
      const b = { baseMs: o.baseMs, capMs: o.baseMs + o.extra, factor: o.factor, jitter: o.jitter };
      const ceiling = backoffCeiling(attempt, b);
      const delay = backoffDelay(attempt, r, b);
      return ceiling <= b.capMs && delay <= ceiling && delay >= Math.floor(ceiling * (1 - b.jitter)) && Number.isFinite(delay);
    }),
  );
});

test('jitter spreads a fleet across the whole window instead of one instant', () => {
  // 1000 devices lose the broker at once; where do their first retries land?
  let seed = 7;
  const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const delays = Array.from({ length: 1_000 }, () => new Backoff(DEFAULT_BACKOFF, random).next());
  const lo = DEFAULT_BACKOFF.baseMs * (1 - DEFAULT_BACKOFF.jitter);
  const hi = DEFAULT_BACKOFF.baseMs;
  assert.ok(delays.every((d) => d >= lo && d <= hi));
  const buckets = [0, 0, 0, 0, 0];
  for (const d of delays) buckets[Math.min(4, Math.floor(((d - lo) / (hi - lo)) * 5))]!++;
  assert.ok(
    buckets.every((n) => n >= 120 && n <= 280),
    `each fifth of the window holds about 200 devices: ${buckets}`,
  );
  assert.ok(new Set(delays).size > 300, 'hardly any two devices retry at the same millisecond');
});

test('Backoff counts attempts and starts over on reset', () => {
  const b = new Backoff(O, () => 0.999_999);
  assert.equal([b.next(), b.next(), b.next()], [500, 1_000, 2_000]);
  assert.is(b.attempts, 3);
  b.reset();
  assert.is(b.attempts, 0);
  assert.is(new Backoff(O, () => 0).next(), 1_000);
});

test('nonsensical options are refused with the setting named', () => {
  for (const bad of [
    { ...O, baseMs: 0 },
    { ...O, capMs: 10 },
    { ...O, factor: 0.5 },
    { ...O, jitter: 1.5 },
    { ...O, baseMs: Number.NaN },
  ]) {
    assert.throws(() => checkBackoffOptions(bad, 'mqttBackoff'), /mqttBackoff: backoff needs/);
  }
  assert.is(checkBackoffOptions(O, 'x'), O);
});

test.run();
