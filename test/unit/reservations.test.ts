// What a write is about to take, kept from the other writes of its group commit (broker/pools/reservations.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Hold, Reservations } from '../../broker/pools/reservations';

const t = suite('reservations');

t('a key taken by one write is passed over by another, and free again once the first releases it', () => {
  const r = new Reservations();
  const a = new Hold();
  const b = new Hold();
  assert.ok(r.take('d:1', a));
  assert.not.ok(r.take('d:1', b), 'another write does not get it');
  assert.ok(r.heldByOther('d:1'), 'held, as any reader sees it');
  assert.ok(r.heldByOther('d:1', b));
  assert.not.ok(r.heldByOther('d:1', a), 'not held against its own holder');
  assert.ok(r.take('d:2', b));
  r.release(a);
  assert.not.ok(r.heldByOther('d:1'));
  assert.ok(r.heldByOther('d:2'), "releasing one write's keys leaves the others'");
  assert.ok(r.take('d:1', b));
});

t('a write run again (its group commit failed) takes what it held once more, and holds it once', () => {
  const r = new Reservations();
  const a = new Hold();
  assert.ok(r.take('e:x', a));
  assert.ok(r.take('e:x', a));
  assert.equal(a.keys, ['e:x']);
  r.release(a);
  assert.equal(a.keys, []);
  assert.ok(r.take('e:x', new Hold()));
});

t('with() releases the hold whether fn resolves or throws', async () => {
  const r = new Reservations();
  assert.is(
    await r.with(async (h) => {
      r.take('d:1', h);
      assert.ok(r.heldByOther('d:1'));
      return 7;
    }),
    7,
  );
  assert.not.ok(r.heldByOther('d:1'));
  await r
    .with(async (h) => {
      r.take('d:2', h);
      throw new Error('the write failed');
    })
    .then(
      () => assert.unreachable('with() passes the failure on'),
      (err: Error) => assert.is(err.message, 'the write failed'),
    );
  assert.not.ok(r.heldByOther('d:2'));
});

t.run();
