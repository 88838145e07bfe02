// The FIFO that stands in for arrays shifted from (broker/fifo.ts): order, peek, an empty queue,
// and the compaction that drops taken items, checked against a plain array across its boundaries.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fifo } from '../../broker/fifo';

const t = suite('fifo');

t('an empty queue has nothing to shift or peek', () => {
  const q = new Fifo<number>();
  assert.is(q.length, 0);
  assert.is(q.shift(), undefined);
  assert.is(q.peek(), undefined);
});

t('items come out in the order they went in, peek leaves them, and push returns the length', () => {
  const q = new Fifo<string>();
  assert.is(q.push('a'), 1);
  assert.is(q.push('b'), 2);
  assert.is(q.peek(), 'a');
  assert.is(q.length, 2);
  assert.is(q.shift(), 'a');
  assert.is(q.shift(), 'b');
  assert.is(q.length, 0);
  assert.is(q.push('c'), 1);
  assert.is(q.shift(), 'c');
});

t('interleaved pushes and shifts match an array through many compactions', () => {
  const q = new Fifo<number>();
  const model: number[] = [];
  let next = 0;
  // Deterministic pattern: bursts of pushes, then of shifts, of growing and shrinking sizes.
  for (let round = 0; round < 200; round++) {
    const pushes = (round * 7919) % 3000;
    const shifts = (round * 104729) % 3500;
    for (let i = 0; i < pushes; i++) {
      q.push(next);
      model.push(next++);
    }
    for (let i = 0; i < shifts; i++) assert.is(q.shift(), model.shift());
    assert.is(q.length, model.length);
    assert.is(q.peek(), model[0]);
  }
  while (model.length > 0) assert.is(q.shift(), model.shift());
  assert.is(q.shift(), undefined);
});

t.run();
