// The rules a cluster node follows to know which other nodes want a message (docs/architecture.md,
// Cluster routing): numbered filter changes applied in order, a missed one asking for a snapshot,
// changes that arrive during a snapshot replayed on top of it, and a new subscription waiting for
// each other node's confirmation, but never twice for a node that does not answer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { FilterAcks } from '../../broker/cluster/filter-acks';
import { type FilterChange, RemoteFilters, parseSnapshot } from '../../broker/cluster/remote-filters';

function directory(): { remote: RemoteFilters; gaps: number[]; applied: [string, number][] } {
  const gaps: number[] = [];
  const applied: [string, number][] = [];
  const remote = new RemoteFilters('self', { gap: () => gaps.push(1), applied: (n, s) => applied.push([n, s]) });
  return { remote, gaps, applied };
}
const nodes = (remote: RemoteFilters, topic: string): string[] => [...remote.nodesFor(topic)].sort();

const t = suite('remote filters');

t('changes apply in order; wildcards match as MQTT says; a removed filter matches nothing', () => {
  const { remote, applied } = directory();
  remote.receive({ n: 'a', s: 1, op: 'reset', fs: ['fb/v1/d/+/evt/#'] });
  remote.receive({ n: 'b', s: 4, op: 'reset', fs: [] });
  remote.receive({ n: 'b', s: 5, op: 'add', f: 'fb/v1/d/x/status' });
  assert.equal(nodes(remote, 'fb/v1/d/x/evt/s'), ['a']);
  assert.equal(nodes(remote, 'fb/v1/d/x/evt'), ['a'], '# also matches its parent level');
  assert.equal(nodes(remote, 'fb/v1/d//evt/s'), ['a'], '+ matches an empty level');
  assert.equal(nodes(remote, 'fb/v1/d/x/status'), ['b']);
  remote.receive({ n: 'b', s: 6, op: 'del', f: 'fb/v1/d/x/status' });
  assert.equal(nodes(remote, 'fb/v1/d/x/status'), []);
  assert.equal(applied, [
    ['a', 1],
    ['b', 4],
    ['b', 5],
    ['b', 6],
  ]);
});

t("a node's own changes, stale changes and repeated ones are ignored", () => {
  const { remote, gaps, applied } = directory();
  remote.receive({ n: 'self', s: 1, op: 'reset', fs: ['mine'] });
  remote.receive({ n: 'a', s: 3, op: 'reset', fs: ['x'] });
  remote.receive({ n: 'a', s: 2, op: 'add', f: 'stale' });
  remote.receive({ n: 'a', s: 3, op: 'del', f: 'x' });
  assert.equal(nodes(remote, 'mine'), []);
  assert.equal(nodes(remote, 'stale'), []);
  assert.equal(nodes(remote, 'x'), ['a']);
  assert.equal([...remote.peers()], ['a']);
  assert.is(gaps.length, 0);
  assert.equal(applied, [['a', 3]]);
});

t('a skipped number, or a change from a node never seen, asks for a snapshot and applies nothing', () => {
  const { remote, gaps } = directory();
  remote.receive({ n: 'a', s: 1, op: 'reset', fs: [] });
  remote.receive({ n: 'a', s: 3, op: 'add', f: 'late' });
  remote.receive({ n: 'b', s: 7, op: 'add', f: 'unknown' });
  assert.is(gaps.length, 2);
  assert.equal(nodes(remote, 'late'), []);
  assert.equal(nodes(remote, 'unknown'), []);
});

t('a snapshot replaces everything, drops unlisted nodes, and held changes replay only past it', () => {
  const { remote, gaps } = directory();
  remote.receive({ n: 'gone', s: 1, op: 'reset', fs: ['g'] });
  remote.receive({ n: 'a', s: 1, op: 'reset', fs: ['old'] });
  remote.hold();
  remote.receive({ n: 'a', s: 5, op: 'add', f: 'in-snapshot' });
  remote.receive({ n: 'a', s: 6, op: 'add', f: 'after' });
  assert.equal(nodes(remote, 'after'), [], 'nothing applies while held');
  remote.applySnapshot(parseSnapshot(['a', '5', '2', 'in-snapshot', 'x', 'self', '9', '1', 'mine']));
  assert.equal(nodes(remote, 'g'), []);
  assert.equal(nodes(remote, 'old'), []);
  assert.equal(nodes(remote, 'x'), ['a']);
  assert.equal(nodes(remote, 'in-snapshot'), ['a']);
  assert.equal(nodes(remote, 'after'), ['a']);
  assert.equal(nodes(remote, 'mine'), [], "this node's own filters are not remote");
  assert.is(gaps.length, 0);
});

t('a gone node is forgotten; its later reset starts it again', () => {
  const { remote } = directory();
  remote.receive({ n: 'a', s: 1, op: 'reset', fs: ['x'] });
  remote.receive({ n: 'a', op: 'gone' });
  assert.equal(nodes(remote, 'x'), []);
  assert.equal([...remote.peers()], []);
  remote.receive({ n: 'a', s: 1, op: 'reset', fs: ['y'] });
  assert.equal(nodes(remote, 'y'), ['a']);
});

t('parseSnapshot reads the flat answer of the snapshot script, empty sets included', () => {
  assert.equal(parseSnapshot(['a', '3', '0', 'b', '1', '2', 'f/1', 'f/+']), [
    { node: 'a', seq: 3, filters: [] },
    { node: 'b', seq: 1, filters: ['f/1', 'f/+'] },
  ]);
  assert.equal(parseSnapshot([]), []);
});

t("with changes lost on the way, a node holds the sender's set as of the last change it got, or has asked for a snapshot", () => {
  // A lost change shows only when a later one arrives: the trailing ones are caught by the next
  // change or the snapshot after a reconnect.
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a/b', 'a/+', '#', 'c')), { maxLength: 30 }),
      fc.array(fc.boolean(), { maxLength: 30 }),
      (ops, lost) => {
        const truth = new Set<string>();
        let asOfLastReceived: string[] = [];
        const { remote, gaps } = directory();
        remote.receive({ n: 'a', s: 1, op: 'reset', fs: [] });
        ops.forEach(([add, f], i) => {
          if (add) truth.add(f);
          else truth.delete(f);
          const change: FilterChange = { n: 'a', s: i + 2, op: add ? 'add' : 'del', f };
          if (lost[i]) return;
          remote.receive(change);
          asOfLastReceived = [...truth].sort();
        });
        if (gaps.length === 0) assert.equal(remote.filtersOf('a').sort(), asOfLastReceived);
        else assert.ok(lost.slice(0, ops.length).some(Boolean), 'a gap only when something was lost');
      },
    ),
  );
});

t.run();

const a = suite('filter confirmations');

a('a new subscription waits for every peer, whichever confirms first', async () => {
  const acks = new FilterAcks(5_000, () => assert.unreachable('no one is late'));
  let done = false;
  const waiting = acks.wait(3, ['p', 'q']).then(() => (done = true));
  acks.ack('p', 3);
  await Promise.resolve();
  assert.not.ok(done);
  acks.ack('q', 4);
  await waiting;
  assert.ok(done);
  // Already confirmed up to 4: nothing to wait for.
  await acks.wait(4, ['p', 'q'].slice(1));
});

a('a peer that misses the deadline is reported once and not waited for until it answers', async () => {
  const late: string[][] = [];
  const acks = new FilterAcks(20, (n) => late.push(n));
  const first = acks.wait(1, ['p', 'slow']);
  acks.ack('p', 1);
  await first;
  assert.equal(late, [['slow']]);
  await acks.wait(2, ['slow']);
  assert.equal(late, [['slow']], 'not waited for again');
  acks.ack('slow', 1);
  const again = acks.wait(3, ['slow']);
  acks.ack('slow', 3);
  await again;
  assert.equal(late, [['slow']]);
});

a('a peer that leaves releases what waits for it; after a reset earlier confirmations count for nothing', async () => {
  const acks = new FilterAcks(5_000, () => assert.unreachable('no one is late'));
  const waiting = acks.wait(1, ['dead']);
  acks.forget('dead');
  await waiting;
  acks.ack('p', 9);
  acks.reset();
  let done = false;
  const after = acks.wait(1, ['p']).then(() => (done = true));
  await Promise.resolve();
  assert.not.ok(done);
  acks.ack('p', 1);
  await after;
});

a.run();
