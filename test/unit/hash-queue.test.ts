import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HashQueue } from '../../broker/auth/hash-queue';

const t = suite('hash queue');

/** A task that finishes when the test says so, recording when it started. */
function gate(log: string[], name: string): { task: () => Promise<string>; finish: () => void; fail: (e: Error) => void } {
  let finish = (): void => {};
  let fail = (_e: Error): void => {};
  const task = (): Promise<string> => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      finish = () => resolve(name);
      fail = reject;
    });
  };
  return { task, finish: () => finish(), fail: (e) => fail(e) };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t('runs no more than its concurrency at once, in arrival order', async () => {
  const q = new HashQueue(2);
  const log: string[] = [];
  const gates = ['a', 'b', 'c', 'd'].map((n) => gate(log, n));
  const results = gates.map((g) => q.run(g.task, () => true));
  await tick();
  assert.equal(log, ['start a', 'start b']);
  assert.is(q.depth, 2);
  gates[1]!.finish();
  await tick();
  assert.equal(log, ['start a', 'start b', 'start c']);
  gates[0]!.finish();
  await tick();
  assert.equal(log, ['start a', 'start b', 'start c', 'start d']);
  assert.is(q.depth, 0);
  gates[2]!.finish();
  gates[3]!.finish();
  assert.equal(await Promise.all(results), ['a', 'b', 'c', 'd']);
});

t('drops a task whose connection went while it waited, and runs the next', async () => {
  const q = new HashQueue(1);
  const log: string[] = [];
  const first = gate(log, 'first');
  const gone = gate(log, 'gone');
  const last = gate(log, 'last');
  let connected = true;
  const r1 = q.run(first.task, () => true);
  const r2 = q.run(gone.task, () => connected);
  const r3 = q.run(last.task, () => true);
  await tick();
  connected = false;
  first.finish();
  assert.is(await r2, null);
  await tick();
  last.finish();
  assert.equal([await r1, await r3], ['first', 'last']);
  assert.equal(log, ['start first', 'start last']);
  assert.is(q.dropped, 1);
});

t('a failing task rejects its caller and frees its slot', async () => {
  const q = new HashQueue(1);
  const log: string[] = [];
  const bad = gate(log, 'bad');
  const next = gate(log, 'next');
  const r1 = q.run(bad.task, () => true);
  const r2 = q.run(next.task, () => true);
  await tick();
  bad.fail(new Error('scrypt failed'));
  const err = await r1.then(
    () => null,
    (e: Error) => e,
  );
  assert.match(String(err), /scrypt failed/);
  await tick();
  next.finish();
  assert.is(await r2, 'next');
  assert.is(q.depth, 0);
});

t('refuses a concurrency below one', () => {
  assert.throws(() => new HashQueue(0), /at least 1/);
});

t.run();
