import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Aedes } from 'aedes';
import { aedesInternals } from '../../broker/upstream/aedes';
import { guardRecursion } from '../../broker/upstream/mq-guard';
import { waitUntil } from '../helpers/wait';

const mqOf = (aedes: Aedes): Mq => aedesInternals(aedes).mq as Mq;

type Mq = { on(t: string, f: (p: unknown, cb: () => void) => void, done?: () => void): void; emit(p: { topic: string }, cb?: (err?: Error) => void): void };

/** Holds the emitter's only slot with a slow listener, queues `n` messages nobody hears, then frees the slot. */
async function burst(mq: Mq, n: number): Promise<{ delivered: number; order: number[]; error: unknown }> {
  let release: () => void = () => {};
  await new Promise<void>((r) => mq.on('slow', (_p, cb) => (release = cb), r));
  mq.emit({ topic: 'slow' });
  const order: number[] = [];
  let delivered = 0;
  for (let i = 0; i < n; i++)
    mq.emit({ topic: `nobody/${i}` }, () => {
      order.push(i);
      delivered++;
    });
  let error: unknown = null;
  try {
    release();
  } catch (err) {
    error = err;
  }
  // A bound for a stuck drain, not a speed requirement: a loaded machine may take a while.
  await waitUntil(
    () => delivered >= n || error !== null,
    120_000,
    () => `the drain to finish or die (${delivered} of ${n} delivered)`,
    50,
  );
  return { delivered, order, error };
}

const t = suite('MQEmitter queue drain');

t('upstream mqemitter still overflows the stack draining a long queue (pinned: drop the guard when this fails)', async () => {
  const aedes = await Aedes.createBroker({ concurrency: 1 });
  const r = await burst(mqOf(aedes), 50_000);
  assert.instance(r.error, RangeError);
  await new Promise<void>((res) => aedes.close(() => res()));
});

t('the guarded emitter drains 50,000 queued messages in order without overflowing', async () => {
  const aedes = await Aedes.createBroker({ concurrency: 1 });
  try {
    guardRecursion(mqOf(aedes));
    const r = await burst(mqOf(aedes), 50_000);
    assert.is(r.error, null);
    assert.is(r.delivered, 50_000);
    assert.ok(
      r.order.every((v, i) => v === i),
      'delivery order kept',
    );
  } finally {
    await new Promise<void>((res) => aedes.close(() => res()));
  }
});

t('guarding twice is harmless', async () => {
  const aedes = await Aedes.createBroker();
  assert.is(guardRecursion(guardRecursion(mqOf(aedes))), mqOf(aedes));
  await new Promise<void>((res) => aedes.close(() => res()));
});

t.run();
