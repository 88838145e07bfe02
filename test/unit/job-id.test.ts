// Job ids (broker/jobs/store.ts, newJobId): version-7 UUIDs in creation order, many within one
// millisecond included, each one new, with the time of their creation in their first 48 bits.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newJobId } from '../../broker/jobs/store';

const t = suite('job ids');

t('ids made in a tight loop are unique, version 7 and sort in the order they were made', () => {
  const before = Date.now();
  const ids = Array.from({ length: 20_000 }, () => newJobId());
  const after = Date.now();
  assert.is(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(
    [...ids].sort().every((id, i) => id === ids[i]),
    'sorted order is creation order',
  );
  const msOf = (id: string): number => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  assert.ok(msOf(ids[0]!) >= before && msOf(ids.at(-1)!) <= after + 1, 'the leading 48 bits are the creation time');
  // Several ids per millisecond: the counter, not the clock, ordered them.
  assert.ok(new Set(ids.map(msOf)).size < ids.length);
});

t.run();
