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

t('with more than one slot, a message deferred for depth still reaches listeners before every later one', async () => {
  const aedes = await Aedes.createBroker({ concurrency: 2 });
  try {
    const mq = mqOf(aedes);
    guardRecursion(mq);
    // Two slow listeners hold both slots; a burst queues behind them and one listener hears it all.
    const releases: (() => void)[] = [];
    await new Promise<void>((r) => mq.on('slow/+', (_p, cb) => releases.push(cb), r));
    const heard: number[] = [];
    await new Promise<void>((r) => mq.on('burst/+', (p, cb) => (heard.push(Number((p as { topic: string }).topic.slice(6))), cb()), r));
    mq.emit({ topic: 'slow/a' });
    mq.emit({ topic: 'slow/b' });
    const n = 1_000;
    for (let i = 0; i < n; i++) mq.emit({ topic: `burst/${i}` });
    // The first release drains the queue until the recursion bound defers one message, which takes
    // the freed slot; the second release then frees a slot while later messages are still queued.
    releases[0]!();
    releases[1]!();
    await waitUntil(
      () => heard.length === n,
      30_000,
      () => `every burst message to be heard (${heard.length} of ${n})`,
    );
    const firstOutOfOrder = heard.findIndex((v, i) => v !== i);
    assert.is(firstOutOfOrder, -1, `heard ${heard.slice(Math.max(0, firstOutOfOrder - 2), firstOutOfOrder + 3).join(',')} at ${firstOutOfOrder}`);
    // The emitter's slots all free again: a new message is heard at once.
    mq.emit({ topic: `burst/${n}` });
    assert.is(heard.at(-1), n);
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
