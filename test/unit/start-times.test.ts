// When the oldest piece of work under way began (broker/start-times.ts), as the connect shedding
// reads it: work ends in any order, and only the oldest still under way counts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StartTimes } from '../../broker/start-times';

const t = suite('start times');

t('the oldest under way, however the work ends', () => {
  const s = new StartTimes();
  assert.is(s.oldest(7), 7, 'none under way: now');
  const entries = Array.from({ length: 5000 }, (_, i) => s.add(i));
  assert.is(s.oldest(-1), 0);
  for (const e of entries.slice(0, 3000)) s.remove(e);
  assert.is(s.oldest(-1), 3000);
  assert.is(s.size, 2000);
  // One ending out of order changes neither the oldest nor, twice, the count.
  s.remove(entries[4000]!);
  s.remove(entries[4000]!);
  assert.is(s.oldest(-1), 3000);
  assert.is(s.size, 1999);
  for (const e of entries.slice(3000)) s.remove(e);
  assert.is(s.size, 0);
  assert.is(s.oldest(-1), -1);
  s.add(9);
  assert.is(s.oldest(-1), 9);
});

t.run();
