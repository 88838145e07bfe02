import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Compaction, StormCompactor, compactHeap } from '../../broker/heap-compaction';
import { sleep } from '../helpers/mqtt';

const t = suite('heap compaction');

const oldSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;

t('gives back the sparse old-space pages a plain full collection keeps', () => {
  // Old space full of live objects, three in four then dropped: the pages stay, each a quarter used.
  let all: { n: number; s: string; a: number[] }[] | null = [];
  for (let i = 0; i < 600_000; i++) all.push({ n: i, s: `object ${i}`, a: [i] });
  const plainGc = (() => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    return gc;
  })();
  plainGc();
  const full = oldSpace();
  const kept = all.filter((_, i) => i % 4 === 0);
  all = null;
  plainGc();
  const sparse = oldSpace();
  const c = compactHeap();
  const compacted = oldSpace();
  const mib = (b: number): string => `${(b / 1024 ** 2).toFixed(0)} MiB`;
  const figures = `full ${mib(full)}, sparse after a plain collection ${mib(sparse)}, compacted ${mib(compacted)}`;
  assert.ok(full - compacted > (full - sparse) * 2, `the compaction gave back little more than a plain collection: ${figures}`);
  assert.ok(compacted < full / 2, `old space still holds most of the dropped objects' pages: ${figures}`);
  assert.ok(c.afterBytes < c.beforeBytes, `committed ${c.beforeBytes} → ${c.afterBytes}`);
  assert.ok(c.ms > 0);
  assert.is(kept.length, 150_000);
  assert.is(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the main context never gets gc');
});

/**
 * A compactor whose compaction only records that it ran (or throws `fails`), ticking every
 * `tickMs`; `waiting` is the count of connections not yet through CONNECT it sees.
 */
function recording(storm: number, tickMs: number, fails?: Error): { c: StormCompactor; runs: number[]; failures: unknown[]; waiting: { n: number } } {
  const runs: number[] = [];
  const failures: unknown[] = [];
  const waiting = { n: 0 };
  const fake = (): Compaction => {
    if (fails) throw fails;
    return { beforeBytes: 2, afterBytes: 1, ms: 1 };
  };
  const report = { compacted: ({ connects }: { connects: number }) => runs.push(connects), failed: (err: unknown) => failures.push(err) };
  const c = new StormCompactor(storm, () => waiting.n, report, tickMs, fake);
  return { c, runs, failures, waiting };
}

t('a storm is compacted once, after three calm ticks', async () => {
  const { c, runs } = recording(100, 20);
  for (let i = 0; i < 150; i++) c.connected();
  await sleep(70);
  assert.equal(runs, [], 'not after two calm ticks');
  await sleep(40);
  assert.equal(runs, [150]);
  await sleep(60);
  assert.equal(runs, [150], 'once per storm');
  c.close();
});

t('a storm that keeps going is compacted only when it stops', async () => {
  const { c, runs } = recording(100, 20);
  for (let tick = 0; tick < 5; tick++) {
    for (let i = 0; i < 30; i++) c.connected();
    await sleep(20);
    assert.equal(runs, [], `tick ${tick}`);
  }
  await sleep(100);
  assert.equal(runs, [150]);
  c.close();
});

t('a pause with connections still waiting does not end the storm', async () => {
  const { c, runs, waiting } = recording(100, 20);
  for (let i = 0; i < 60; i++) c.connected();
  waiting.n = 40;
  await sleep(70);
  assert.equal(runs, [], 'ticks with no connect but 40 waiting');
  for (let i = 0; i < 40; i++) c.connected();
  waiting.n = 1;
  await sleep(110);
  assert.equal(runs, [100], 'one waiting is calm');
  c.close();
});

t('churn, one connect at a time, never builds a storm', async () => {
  const { c, runs } = recording(10, 5);
  for (let i = 0; i < 40; i++) {
    c.connected();
    await sleep(8);
  }
  await sleep(20);
  assert.equal(runs, []);
  c.close();
});

t('a burst smaller than the storm size is not compacted, and a storm size of 0 turns compaction off', async () => {
  for (const [storm, burst] of [
    [100, 99],
    [0, 1000],
  ] as const) {
    const { c, runs } = recording(storm, 5);
    for (let i = 0; i < burst; i++) c.connected();
    await sleep(40);
    assert.equal(runs, [], `storm ${storm}, burst ${burst}`);
    c.close();
  }
});

t('a compaction that fails is reported, not thrown from the timer', async () => {
  const boom = new Error('no collector');
  const { c, runs, failures } = recording(10, 5, boom);
  for (let i = 0; i < 20; i++) c.connected();
  await sleep(40);
  assert.equal(failures, [boom]);
  assert.equal(runs, []);
  c.close();
});

t('close stops a pending tick', async () => {
  const { c, runs } = recording(10, 10);
  for (let i = 0; i < 50; i++) c.connected();
  c.close();
  await sleep(40);
  assert.equal(runs, []);
});

t.run();
