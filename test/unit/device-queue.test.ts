// A device's serial runner (broker/jobs/device-queue.ts): steps run one at a time in order, the
// settle hook runs once the queue is empty, and a write a step defers lets the next queued step
// run at once while the settle hook still waits for that write.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DeviceQueue } from '../../broker/jobs/device-queue';

const t = suite('device queue');

/** A write that commits (or fails) when the test says so. */
function pendingWrite(): { write: Promise<void>; commit: () => void; fail: (e: Error) => void } {
  let commit = (): void => {};
  let fail = (_e: Error): void => {};
  const write = new Promise<void>((resolve, reject) => {
    commit = resolve;
    fail = reject;
  });
  return { write, commit, fail };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

t('steps run in order and the queue settles once, after the last', async () => {
  const q = new DeviceQueue('d1');
  const log: string[] = [];
  const settled = async (): Promise<void> => void log.push('settled');
  const steps = ['a', 'b', 'c'].map((name) =>
    q.run(async () => {
      log.push(`start ${name}`);
      await turn();
      log.push(`end ${name}`);
    }, settled),
  );
  await Promise.all(steps);
  await q.idle();
  assert.equal(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c', 'settled']);
});

t('a step queued behind a deferred write runs before it commits; the settle waits for the commit', async () => {
  const q = new DeviceQueue('d1');
  const log: string[] = [];
  const w = pendingWrite();
  const settled = async (): Promise<void> => void log.push('settled');
  const first = q.run(async () => {
    log.push('accepted');
    q.defer(w.write.then(() => void log.push('committed')));
  }, settled);
  const second = q.run(async () => void log.push('done'), settled);
  await Promise.all([first, second]);
  await turn();
  assert.equal(log, ['accepted', 'done'], 'the second step ran, and nothing settled before the commit');
  assert.ok(q.busy === false);
  w.commit();
  await q.idle();
  assert.equal(log, ['accepted', 'done', 'committed', 'settled']);
});

t('a step queued after the queue emptied waits for the deferred write, as it waited for the step', async () => {
  const q = new DeviceQueue('d1');
  const log: string[] = [];
  const w = pendingWrite();
  const settled = async (): Promise<void> => void log.push('settled');
  await q.run(async () => {
    q.defer(w.write.then(() => void log.push('committed')));
  }, settled);
  const later = q.run(async () => void log.push('later'), settled);
  await turn();
  assert.equal(log, []);
  w.commit();
  await later;
  await q.idle();
  // One settle covers the commit and the later step.
  assert.equal(log, ['committed', 'later', 'settled']);
});

t('a deferred write that fails still lets the queue settle and go on', async () => {
  const q = new DeviceQueue('d1');
  const log: string[] = [];
  const w = pendingWrite();
  const settled = async (): Promise<void> => void log.push('settled');
  await q.run(async () => {
    q.defer(w.write.catch((err: Error) => void log.push(`failed: ${err.message}`)));
  }, settled);
  w.fail(new Error('disk full'));
  await q.idle();
  await q.run(async () => void log.push('next'), settled);
  await q.idle();
  assert.equal(log, ['failed: disk full', 'settled', 'next', 'settled']);
});

t.run();
