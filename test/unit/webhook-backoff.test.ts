// Webhook retry delays (docs/architecture.md and README, Webhooks): exponential from the base,
// capped at an hour, each scaled by random jitter so endpoints that failed together do not retry
// together.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffMs } from '../../broker/webhooks/deliverer';

const HOUR = 3600_000;

test('each failure doubles the delay, within jitter of half to all of it', () => {
  for (let failed = 1; failed <= 10; failed++) {
    const full = 5_000 * 2 ** (failed - 1);
    for (let i = 0; i < 50; i++) {
      const d = backoffMs(5_000, failed);
      assert.ok(d >= full / 2 && d <= full, `after ${failed} failures: ${d} ms not in [${full / 2}, ${full}]`);
    }
  }
});

test('the delay is capped at an hour however long the endpoint has failed', () => {
  for (const failed of [12, 20, 100, 10_000]) {
    const d = backoffMs(5_000, failed);
    assert.ok(d >= HOUR / 2 && d <= HOUR, `after ${failed} failures: ${d} ms`);
  }
});

test('the jitter spreads retries: the same failure count gives many different delays', () => {
  const delays = new Set(Array.from({ length: 200 }, () => backoffMs(5_000, 3)));
  assert.ok(delays.size > 100, `${delays.size} distinct delays of 200`);
});

test.run();
