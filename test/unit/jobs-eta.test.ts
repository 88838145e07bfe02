// ETA arithmetic (broker/jobs/eta.ts) and the job options a broker takes from flags and the
// environment.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseOptions } from '../../broker/config';
import { EWMA_ALPHA, type Duration, knownMs, nextDuration, priorMs, schedule } from '../../broker/jobs/eta';
import { JOB_KINDS } from '../../protocol/jobs';

const ewma = suite('jobs: duration estimate');

ewma('the first real duration replaces the prior; early samples average, later ones weigh EWMA_ALPHA', () => {
  let d: Duration | undefined;
  d = nextDuration(d, 200);
  assert.equal(d, { ewmaMs: 200, samples: 1 });
  d = nextDuration(d, 400);
  assert.equal(d, { ewmaMs: 300, samples: 2 }, 'second sample weighs 1/2');
  d = nextDuration(d, 600);
  assert.equal(d, { ewmaMs: 400, samples: 3 }, 'third sample weighs 1/3');
  const late = nextDuration({ ewmaMs: 1000, samples: 50 }, 2000);
  assert.is(late.ewmaMs, Math.round(1000 + EWMA_ALPHA * 1000));
});

ewma('a steady workload converges and a change of pace is followed', () => {
  let d: Duration | undefined;
  for (let i = 0; i < 30; i++) d = nextDuration(d, 150);
  assert.is(d!.ewmaMs, 150);
  for (let i = 0; i < 30; i++) d = nextDuration(d, 600);
  assert.ok(Math.abs(d!.ewmaMs - 600) < 5, `after the change: ${d!.ewmaMs}`);
});

ewma("the prior is the kind's typical duration", () => {
  assert.is(priorMs('identify'), JOB_KINDS.identify.typicalMs);
  assert.is(priorMs('qr.show'), JOB_KINDS['qr.show'].typicalMs);
  assert.ok(priorMs('no-such-kind') > 0);
});

const sched = suite('jobs: positions and ETAs');
const dur = (kind: string): number => ({ a: 100, b: 1000 })[kind] ?? 0;

sched('a held QR counts until its expiry, from display; the jobs behind it add that time', () => {
  const now = 1_000_000;
  const jobs = [
    { id: 'pay', kind: 'qr.show', state: 'running', startedAt: now - 30_000, params: { hold: true, expiresInSeconds: 300 } },
    { id: 'next', kind: 'identify', state: 'queued', startedAt: null, params: { seconds: 5 } },
    { id: 'late', kind: 'qr.show', state: 'queued', startedAt: null, params: { expiresAt: now + 200_000 } },
  ];
  // History says QRs take 28 s; the params say more, and they win.
  const slots = schedule(jobs, 1, now, () => 28_000);
  assert.equal(slots.get('pay'), { position: 0, eta: 270_000 });
  assert.equal(slots.get('next'), { position: 1, eta: 275_000 });
  assert.equal(slots.get('late'), { position: 2, eta: 275_000 }, 'a QR whose expiresAt passes before it starts takes no time');
  assert.is(knownMs({ kind: 'serial.send', params: {} }, now), null, 'history decides what params do not say');
});

sched('one slot: the running job keeps what remains of its duration, queued jobs follow in order', () => {
  const now = 10_000;
  const slots = schedule(
    [
      { id: 'r', kind: 'a', state: 'running', startedAt: now - 40 },
      { id: 'q1', kind: 'b', state: 'queued', startedAt: null },
      { id: 'q2', kind: 'a', state: 'queued', startedAt: null },
    ],
    1,
    now,
    dur,
  );
  assert.equal(slots.get('r'), { position: 0, eta: 60 });
  assert.equal(slots.get('q1'), { position: 1, eta: 1060 });
  assert.equal(slots.get('q2'), { position: 2, eta: 1160 });
});

sched('a job running longer than its estimate is counted as finishing now, never negative', () => {
  const slots = schedule(
    [
      { id: 'r', kind: 'a', state: 'dispatched', startedAt: 0 },
      { id: 'q', kind: 'a', state: 'queued', startedAt: null },
    ],
    1,
    5000,
    dur,
  );
  assert.equal(slots.get('r'), { position: 0, eta: 0 });
  assert.equal(slots.get('q'), { position: 1, eta: 100 });
});

sched('with concurrency 2, each queued job takes the slot that frees first', () => {
  const slots = schedule(
    [
      { id: 'r1', kind: 'b', state: 'running', startedAt: 0 },
      { id: 'r2', kind: 'a', state: 'running', startedAt: 0 },
      { id: 'q1', kind: 'a', state: 'queued', startedAt: null },
      { id: 'q2', kind: 'a', state: 'queued', startedAt: null },
      { id: 'q3', kind: 'b', state: 'queued', startedAt: null },
    ],
    2,
    0,
    dur,
  );
  assert.equal(
    [...slots].map(([id, s]) => [id, s.position, s.eta]),
    [
      ['r1', 0, 1000],
      ['r2', 0, 100],
      ['q1', 1, 200],
      ['q2', 2, 300],
      ['q3', 3, 1300],
    ],
  );
});

const opts = suite('jobs: options');

opts('queue cap and delivery timing come from flags or FLEETBIND_* variables, flags winning', () => {
  const d = parseOptions([], {});
  assert.equal([d.queueCap, d.jobAckTimeoutMs, d.jobAttempts], [20, 5000, 5]);
  const env = parseOptions([], { FLEETBIND_QUEUE_CAP: '7', FLEETBIND_JOB_ACK_TIMEOUT_MS: '250', FLEETBIND_JOB_ATTEMPTS: '2', FLEETBIND_JOB_TTL_MS: '60000' });
  assert.equal([env.queueCap, env.jobAckTimeoutMs, env.jobAttempts, env.jobTtlMs], [7, 250, 2, 60_000]);
  assert.is(parseOptions(['--queue-cap', '3'], { FLEETBIND_QUEUE_CAP: '7' }).queueCap, 3);
});

opts('a queue cap that is not a positive integer is refused, naming the flag', () => {
  for (const bad of ['0', '-1', '2.5', 'many']) {
    assert.throws(
      () => parseOptions(['--queue-cap', bad], {}),
      (e: Error) => e.message.includes('--queue-cap'),
      bad,
    );
  }
});

ewma.run();
sched.run();
opts.run();
