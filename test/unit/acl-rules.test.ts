// The ACL's pure rule functions (docs/architecture.md, ACL rules), table by table and as
// properties over generated ids and topics. They run in milliseconds, so a broken rule is caught
// here before any broker test starts.
import fc from 'fast-check';
import type { PublishPacket } from 'aedes';
import * as assert from 'uvu/assert';
import { Acl } from '../../broker/acl';
import { HashQueue } from '../../broker/auth/hash-queue';
import { BindingMap } from '../../broker/binding-map';
import type { Identity } from '../../broker/identity';
import { createLogger } from '../../broker/logger';
import { Metrics } from '../../broker/metrics';
import { LocalPresence } from '../../broker/presence';
import { DEVICE_LEAVES, PAYLOAD_LIMIT_DEFAULT, PAYLOAD_LIMIT_EVT } from '../../protocol/topics';
import { suite } from '../helpers/suite';

const bindings = new BindingMap();
bindings.apply('d1', 'a1', 1);
bindings.apply('d2', 'a2', 1);
const acl = new Acl(bindings, new LocalPresence(1000, () => {}), new Metrics(new HashQueue(1)), createLogger('silent'));

const device = (id: string): Identity => ({ kind: 'device', id, conn: 1, credential: `device:${id}` });
const agent = (id: string): Identity => ({ kind: 'agent', id, conn: 1, credential: `session:${id}`, expiresAt: Infinity });
const admin: Identity = { kind: 'admin', id: 'ops', conn: 1, credential: 'session:ops', expiresAt: Infinity };
const enroll: Identity = { kind: 'enroll', mac: 'a4cf12b4c9e0', tokenId: 'et-1', conn: 1, credential: 'enroll:et-1' };
const packet = (topic: string, size = 10, retain = false): PublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.alloc(size),
  qos: 0,
  retain,
  dup: false,
});

const t = suite('ACL rule functions');

t('subscribe: each identity gets its own topics and nothing else', () => {
  const table: [Identity, string, string | null][] = [
    [device('d1'), 'fb/v1/d/d1/config', null],
    [device('d1'), 'fb/v1/d/d1/cmd', null],
    [device('d1'), 'fb/v1/d/d1/status', 'device-scope'],
    [device('d1'), 'fb/v1/d/d2/cmd', 'device-scope'],
    [device('d1'), 'fb/v1/d/+/cmd', 'wildcard-id'],
    [enroll, 'fb/v1/enroll/a4cf12b4c9e0/reply', null],
    [enroll, 'fb/v1/enroll/a4cf12b4c9e1/reply', 'enroll-scope'],
    [enroll, 'fb/v1/enroll/a4cf12b4c9e0', 'enroll-scope'],
    [agent('a1'), 'fb/v1/a/a1/res', null],
    [agent('a1'), 'fb/v1/a/a1/bindings', null],
    [agent('a1'), 'fb/v1/a/a1/#', null],
    [agent('a1'), 'fb/v1/a/a2/res', 'agent-scope'],
    [agent('a1'), 'fb/v1/d/d1/status', null],
    [agent('a1'), 'fb/v1/d/d1/jobs', null],
    [agent('a1'), 'fb/v1/d/d1/evt/#', null],
    [agent('a1'), 'fb/v1/d/d1/evt/telemetry', null],
    [agent('a1'), 'fb/v1/d/d1/#', null],
    [agent('a1'), 'fb/v1/d/d1/cmd', 'agent-scope'],
    [agent('a1'), 'fb/v1/d/d1/evt/a/b', 'agent-scope'],
    [agent('a1'), 'fb/v1/d/d2/status', 'not-bound'],
    [agent('a1'), 'fb/v1/d/d3/status', 'not-bound'],
    [agent('a1'), 'fb/v1/d/BAD/status', 'bad-id'],
    [agent('a1'), 'fb/v1/d/+/status', 'wildcard-id'],
    [agent('a1'), 'fb/v1/+/d1/status', 'wildcard-id'],
    [agent('a1'), 'fb/v1/#', 'wildcard-id'],
    [agent('a1'), '#', 'outside-tree'],
    [agent('a1'), '$SYS/#', 'outside-tree'],
    [agent('a1'), 'fb/v1/admin/ops/res', 'agent-scope'],
    [admin, '#', null],
    [admin, 'fb/v1/d/+/status', null],
  ];
  for (const [who, filter, rule] of table) assert.is(acl.subscribeRule(who, filter), rule, `${who.kind} subscribing to ${filter}`);
});

t('publish: own leaves only, retain only on status, payload limits', () => {
  const table: [Identity, PublishPacket, string | null][] = [
    [device('d1'), packet('fb/v1/d/d1/hello'), null],
    [device('d1'), packet('fb/v1/d/d1/ack'), null],
    [device('d1'), packet('fb/v1/d/d1/status', 10, true), null],
    [device('d1'), packet('fb/v1/d/d1/evt/telemetry', PAYLOAD_LIMIT_EVT), null],
    [device('d1'), packet('fb/v1/d/d1/evt/telemetry', PAYLOAD_LIMIT_EVT + 1), 'payload-size'],
    [device('d1'), packet('fb/v1/d/d1/ack', PAYLOAD_LIMIT_DEFAULT + 1), 'payload-size'],
    [device('d1'), packet('fb/v1/d/d1/hello', 10, true), 'retain'],
    [device('d1'), packet('fb/v1/d/d1/cmd'), 'device-leaf'],
    [device('d1'), packet('fb/v1/d/d1/config'), 'device-leaf'],
    [device('d1'), packet('fb/v1/d/d1/jobs'), 'device-leaf'],
    [device('d1'), packet('fb/v1/d/d2/hello'), 'device-scope'],
    [device('d1'), packet('fb/v1/a/a1/req'), 'device-scope'],
    [enroll, packet('fb/v1/enroll/a4cf12b4c9e0'), null],
    [enroll, packet('fb/v1/enroll/a4cf12b4c9e0/reply'), 'enroll-scope'],
    [enroll, packet('fb/v1/enroll/a4cf12b4c9e1'), 'enroll-scope'],
    [agent('a1'), packet('fb/v1/a/a1/req'), null],
    [agent('a1'), packet('fb/v1/a/a1/req', PAYLOAD_LIMIT_DEFAULT + 1), 'payload-size'],
    [agent('a1'), packet('fb/v1/a/a1/res'), 'agent-scope'],
    [agent('a1'), packet('fb/v1/a/a2/req'), 'agent-scope'],
    [agent('a1'), packet('fb/v1/d/d1/cmd'), 'agent-scope'],
    [agent('a1'), packet('fb/v1/d/d1/status', 10, true), 'agent-scope'],
    [admin, packet('fb/v1/admin/ops/req'), null],
    [admin, packet('fb/v1/admin/other/req'), 'admin-scope'],
    [admin, packet('fb/v1/d/d1/cmd'), 'admin-scope'],
    [agent('a1'), packet('elsewhere'), 'outside-tree'],
  ];
  for (const [who, p, rule] of table) assert.is(acl.publishRule(who, p), rule, `${who.kind} publishing on ${p.topic}${p.retain ? ' (retained)' : ''}`);
});

t('forward: checked against the binding on every message', () => {
  const table: [Identity, string, boolean][] = [
    [agent('a1'), 'fb/v1/d/d1/status', true],
    [agent('a1'), 'fb/v1/d/d1/jobs', true],
    [agent('a1'), 'fb/v1/d/d1/evt/telemetry', true],
    [agent('a1'), 'fb/v1/d/d1/hello', false],
    [agent('a1'), 'fb/v1/d/d1/shadow', true],
    [agent('a1'), 'fb/v1/d/d1/state', false],
    [agent('a1'), 'fb/v1/d/d2/shadow', false],
    [agent('a1'), 'fb/v1/a/a1/alerts', true],
    [agent('a1'), 'fb/v1/a/a2/alerts', false],
    [device('d1'), 'fb/v1/d/d1/shadow', false],
    [agent('a1'), 'fb/v1/d/d1/cmd', false],
    [agent('a1'), 'fb/v1/d/d2/status', false],
    [agent('a1'), 'fb/v1/d/d3/status', false],
    [agent('a1'), 'fb/v1/a/a1/res', true],
    [agent('a1'), 'fb/v1/a/a1/req', false],
    [agent('a1'), 'fb/v1/a/a2/res', false],
    [device('d1'), 'fb/v1/d/d1/cmd', true],
    [device('d1'), 'fb/v1/d/d1/config', true],
    [device('d1'), 'fb/v1/d/d1/status', false],
    [device('d1'), 'fb/v1/d/d2/cmd', false],
    [enroll, 'fb/v1/enroll/a4cf12b4c9e0/reply', true],
    [enroll, 'fb/v1/enroll/a4cf12b4c9e1/reply', false],
    [admin, 'fb/v1/d/d2/cmd', true],
  ];
  for (const [who, topic, ok] of table) assert.is(acl.mayReceive(who, topic), ok, `${who.kind} receiving ${topic}`);
});

const id = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,12}$/).filter((s) => !s.includes('..'));
const leaf = fc.constantFrom(...DEVICE_LEAVES, 'evt/telemetry', 'evt/+', 'evt/#', '+', '#');
const nonAdmin = fc.oneof(id.map(device), id.map(agent), fc.constant(enroll));

t('property: no one but an admin gets a wildcard in the namespace or id segment', () => {
  const wild = fc.tuple(fc.constantFrom('+', '#'), fc.boolean(), id, leaf).map(([w, inNs, x, l]) => (inNs ? `fb/v1/${w}/${x}/${l}` : `fb/v1/d/${w}/${l}`));
  fc.assert(fc.property(nonAdmin, wild, (who, filter) => acl.subscribeRule(who, filter) !== null));
});

t('property: an agent receives a device topic only of a device bound to it, and only status, jobs, shadow and evt', () => {
  fc.assert(
    fc.property(id, id, fc.constantFrom(...DEVICE_LEAVES, 'evt/x'), fc.boolean(), (a, dev, l, bound) => {
      const map = new BindingMap();
      map.apply(dev, bound ? a : `${a}-other`, 1);
      const check = new Acl(map, new LocalPresence(1000, () => {}), new Metrics(new HashQueue(1)), createLogger('silent'));
      const visible = bound && (l === 'status' || l === 'jobs' || l === 'shadow' || l.startsWith('evt/'));
      return check.mayReceive(agent(a), `fb/v1/d/${dev}/${l}`) === visible;
    }),
  );
});

t("property: a device publishes only on its own tree, and never on the broker's leaves", () => {
  fc.assert(
    fc.property(id, id, fc.constantFrom(...DEVICE_LEAVES, 'evt/x'), (self, other, l) => {
      const own = acl.publishRule(device(self), packet(`fb/v1/d/${self}/${l}`));
      const foreign = acl.publishRule(device(self), packet(`fb/v1/d/${other}/${l}`));
      const allowed = l === 'hello' || l === 'status' || l === 'ack' || l === 'state' || l === 'evt/x';
      return (own === null) === allowed && (self === other || foreign === 'device-scope');
    }),
  );
});

t('property: retain is refused everywhere but on a device status', () => {
  const topic = fc.tuple(id, fc.constantFrom(...DEVICE_LEAVES, 'evt/x')).map(([x, l]) => `fb/v1/d/${x}/${l}`);
  fc.assert(fc.property(nonAdmin, topic, (who, tp) => tp.endsWith('/status') || acl.publishRule(who, packet(tp, 10, true)) === 'retain'));
});

t('property: whatever an agent may subscribe to without wildcards, it may also receive', () => {
  const topic = fc.tuple(fc.constantFrom('d1', 'd2', 'd3'), fc.constantFrom(...DEVICE_LEAVES, 'evt/x')).map(([d, l]) => `fb/v1/d/${d}/${l}`);
  fc.assert(fc.property(fc.constantFrom('a1', 'a2', 'a3'), topic, (a, tp) => acl.subscribeRule(agent(a), tp) !== null || acl.mayReceive(agent(a), tp)));
});

t.run();
