// One read for callers that ask at the same moment (broker/shared-read.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sharedRead } from '../../broker/shared-read';

const t = suite('shared read');

t('callers while a read is under way share it; a caller after it ended reads again', async () => {
  let reads = 0;
  const read = sharedRead(async () => {
    reads++;
    await new Promise((r) => setTimeout(r, 10));
    return reads;
  });
  assert.equal(await Promise.all([read(), read(), read()]), [1, 1, 1]);
  await new Promise((r) => setImmediate(r));
  assert.is(await read(), 2);
  assert.is(reads, 2);
});

t('a failed read fails every caller that shared it, and the next caller reads again', async () => {
  let reads = 0;
  const read = sharedRead(async () => {
    reads++;
    if (reads === 1) throw new Error('registry unavailable');
    return 'ok';
  });
  const outcomes = await Promise.allSettled([read(), read()]);
  assert.equal(
    outcomes.map((o) => o.status),
    ['rejected', 'rejected'],
  );
  await new Promise((r) => setImmediate(r));
  assert.is(await read(), 'ok');
  assert.is(reads, 2);
});

t.run();
