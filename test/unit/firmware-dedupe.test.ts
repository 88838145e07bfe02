import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JobRing } from '../../firmware/core/job-ring';
import { nodeDriver } from '../xs/harness/drivers';
import { Peer } from '../xs/harness/peer';

const ring = suite('firmware dedupe ring');

ring('remembers up to its capacity and forgets the oldest first', () => {
  const r = new JobRing(3);
  for (const id of ['a', 'b', 'c']) r.add(id);
  assert.is(r.size, 3);
  r.add('d');
  assert.is(r.size, 3);
  assert.is(r.find('a'), undefined);
  assert.equal(
    ['b', 'c', 'd'].map((id) => r.find(id)?.job),
    ['b', 'c', 'd'],
  );
});

ring('lists unsent final acks oldest first', () => {
  const r = new JobRing(4);
  for (const id of ['a', 'b', 'c', 'd', 'e']) Object.assign(r.add(id), { finalAck: `{"job":"${id}"}`, unsent: id !== 'c' });
  assert.equal(
    r.unsent().map((e) => e.job),
    ['b', 'd', 'e'],
  );
});

ring('refuses a capacity that is not a positive integer', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new JobRing(bad), /positive integer/);
});

const core = suite('firmware dedupe in the core');

core('a resend within the ring never runs; after the ring has moved on the id is forgotten', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({ options: { dedupeSize: 4 } });
  await peer.online();
  await peer.cmd('old', 'identify', { seconds: 1 });
  await peer.advance(1_000);
  for (let i = 0; i < 3; i++) {
    await peer.cmd(`j${i}`, 'identify', { seconds: 1 });
    await peer.advance(1_000);
  }
  peer.fresh();
  await peer.cmd('old', 'identify', { seconds: 1 }, { attempt: 2 });
  assert.equal(peer.ackStates('old', peer.fresh()), ['accepted', 'done'], 'still remembered: answered, not run');
  await peer.cmd('j3', 'identify', { seconds: 1 });
  await peer.advance(1_000);
  peer.fresh();
  await peer.cmd('old', 'identify', { seconds: 1 }, { attempt: 3 });
  const calls = peer.fresh();
  assert.equal(peer.ackStates('old', calls), ['accepted', 'progress'], 'evicted: the ring is bounded, so a very late resend runs again');
  assert.is(peer.of('identify', calls).length, 1);
  peer.assertHealthy();
});

core('the running job is recognised even after a flood has evicted it from the ring', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({ options: { dedupeSize: 4 } });
  await peer.online();
  await peer.cmd('long', 'identify', { seconds: 60 });
  for (let i = 0; i < 10; i++) await peer.cmd(`flood-${i}`, 'identify', { seconds: 1 });
  peer.fresh();
  await peer.cmd('long', 'identify', { seconds: 60 }, { attempt: 2 });
  const calls = peer.fresh();
  assert.equal(peer.ackStates('long', calls), ['accepted']);
  assert.is(peer.of('identify', calls).length, 0);
  peer.assertHealthy();
});

ring.run();
core.run();
