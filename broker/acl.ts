// Topic ACLs (docs/architecture.md, ACL rules): deny by default, no wildcard in an id segment except for admins,
// and the binding checked again on every delivered message. Only the in-memory binding map is
// read here: no database query on the per-message path.
import type { AedesOptions, AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';

type AuthorizeSubscribeHandler = NonNullable<AedesOptions['authorizeSubscribe']>;
type AuthorizePublishHandler = NonNullable<AedesOptions['authorizePublish']>;
type AuthorizeForwardHandler = NonNullable<AedesOptions['authorizeForward']>;
import { ID_PATTERN } from '../protocol/ids';
import { type RequestId, requestIdOf } from '../protocol/messages';
import { parseJson } from '../protocol/validate';
import { PAYLOAD_LIMIT_DEFAULT, PAYLOAD_LIMIT_EVT, PREFIX } from '../protocol/topics';
import { parseTopicCached as parseTopic } from './topic-cache';
import type { BindingMap } from './binding-map';
import { type Identity, describe, identityOf } from './identity';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Presence } from './presence';

/** Leaves of a device's tree that its bound agent may see. */
const AGENT_VISIBLE = new Set(['status', 'jobs', 'evt', 'shadow']);
const PREFIX_PARTS = PREFIX.split('/');

// Oversize agent and admin requests are let through emptied, so that the sender is answered
// TOO_LARGE on its res topic instead of being disconnected; the emptied payload carries the
// request's id (when the JSON parsed) to the handler. Keyed by the payload buffer, which Aedes
// hands on unchanged to `published`.
const oversize = new WeakMap<Buffer, RequestId>();

/** The id of an oversize request that authorizePublish emptied (null when it had none), else undefined. */
export function oversizeRequestId(payload: Buffer): RequestId | undefined {
  return oversize.has(payload) ? oversize.get(payload)! : undefined;
}

function idOfOversize(payload: Buffer): RequestId {
  try {
    return requestIdOf(parseJson(payload.toString('utf8')));
  } catch {
    return null;
  }
}

export class Acl {
  constructor(
    private readonly bindings: Pick<BindingMap, 'agentOf'>,
    private readonly presence: Presence,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** The customer session that owns an order, or null (a database read, at subscribe only). */
    private readonly orderOwner: (order: string) => Promise<string | null> = async () => null,
  ) {}

  private deny(rule: string, who: Identity | undefined, topic: string): void {
    this.metrics.aclDenials.inc({ rule });
    this.log.warn({ rule, client: who ? describe(who) : 'unknown', topic: topic.slice(0, 200) }, 'acl denied');
  }

  readonly authorizeSubscribe: AuthorizeSubscribeHandler = (client: Client, sub: Subscription, callback) => {
    const who = identityOf(client);
    const rule = who ? this.subscribeRule(who, sub.topic) : 'unauthenticated';
    if (rule === null) return callback(null, sub);
    if (rule === 'not-own-order' && who?.kind === 'customer') return this.customerSubscribe(who, sub, callback);
    this.deny(`subscribe:${rule}`, who, sub.topic);
    callback(null, null);
  };

  /** An order placed after the customer connected: its owner is read once, then remembered on the connection. */
  private customerSubscribe(who: Extract<Identity, { kind: 'customer' }>, sub: Subscription, callback: Parameters<AuthorizeSubscribeHandler>[2]): void {
    const order = sub.topic.split('/')[3]!;
    this.orderOwner(order).then(
      (owner) => {
        if (owner === who.id) {
          who.orders.add(order);
          return callback(null, sub);
        }
        this.deny('subscribe:not-own-order', who, sub.topic);
        callback(null, null);
      },
      (err: unknown) => {
        this.log.error({ err, order }, 'looking up an order owner failed');
        callback(null, null);
      },
    );
  }

  /** Returns null when allowed, else the name of the rule that refused it. */
  subscribeRule(who: Identity, filter: string): string | null {
    if (who.kind === 'admin') return null;
    const s = filter.split('/');
    if (s[0] !== PREFIX_PARTS[0] || s[1] !== PREFIX_PARTS[1]) return 'outside-tree';
    const [, , ns, id, ...rest] = s;
    if (id === '+' || id === '#' || ns === '+' || ns === '#' || id === undefined) return 'wildcard-id';
    switch (who.kind) {
      case 'device':
        return ns === 'd' && id === who.id && rest.length === 1 && (rest[0] === 'config' || rest[0] === 'cmd') ? null : 'device-scope';
      case 'enroll':
        return ns === 'enroll' && id === who.mac && rest.length === 1 && rest[0] === 'reply' ? null : 'enroll-scope';
      case 'agent':
        if (ns === 'a') return id === who.id && rest.length === 1 && ['res', 'bindings', 'alerts', '+', '#'].includes(rest[0]!) ? null : 'agent-scope';
        if (ns !== 'd') return 'agent-scope';
        if (!ID_PATTERN.test(id)) return 'bad-id';
        if (this.bindings.agentOf(id) !== who.id) return 'not-bound';
        return agentDeviceFilterOk(rest) ? null : 'agent-scope';
      case 'customer':
        // Only fb/v1/o/<order>, exactly, for an order of its own.
        if (ns !== 'o' || rest.length !== 0 || !ID_PATTERN.test(id) || id.includes('..')) return 'customer-scope';
        return who.orders.has(id) ? null : 'not-own-order';
    }
  }

  readonly authorizePublish: AuthorizePublishHandler = (client: Client | null, packet: PublishPacket, callback) => {
    const who = identityOf(client);
    // Device wills are superseded: the broker publishes presence itself, knowing the grace window.
    if (client && packet === (client as Client & { will?: unknown }).will) return callback(new Error('will superseded by broker presence'));
    if (!who) {
      if (client === null && parseTopic(packet.topic)?.kind === 'device') return callback(new Error('stale will dropped'));
      this.deny('publish:unauthenticated', who, packet.topic);
      return callback(new Error('not authenticated'));
    }
    const rule = this.publishRule(who, packet);
    if (rule === 'payload-size' && (who.kind === 'agent' || who.kind === 'admin')) {
      this.deny(`publish:${rule}`, who, packet.topic);
      const emptied = Buffer.alloc(0);
      oversize.set(emptied, idOfOversize(packet.payload as Buffer));
      packet.payload = emptied;
      return callback(null);
    }
    if (rule !== null) {
      this.deny(`publish:${rule}`, who, packet.topic);
      return callback(new Error(`publish refused: ${rule}`));
    }
    // The broker's view replaces what a device says of itself. Its retained copy is already the
    // broker's: presence publishes one on every change, so the device's goes to live subscribers
    // only, and a reconnecting fleet stores each status once, not twice (in a cluster, one Redis
    // write per connect fewer).
    if (who.kind === 'device' && packet.topic.endsWith('/status')) {
      packet.payload = Buffer.from(JSON.stringify(this.presence.status(who.id)));
      packet.retain = false;
    }
    this.metrics.messagesIn++;
    callback(null);
  };

  publishRule(who: Identity, packet: PublishPacket): string | null {
    const t = parseTopic(packet.topic);
    if (!t) return 'outside-tree';
    const size = packet.payload.length;
    if (packet.retain && !(t.kind === 'device' && t.leaf === 'status')) return 'retain';
    switch (who.kind) {
      case 'device':
        if (t.kind !== 'device' || t.device !== who.id) return 'device-scope';
        if (t.leaf === 'evt') return size > PAYLOAD_LIMIT_EVT ? 'payload-size' : null;
        if (t.leaf !== 'hello' && t.leaf !== 'status' && t.leaf !== 'ack' && t.leaf !== 'state') return 'device-leaf';
        return size > PAYLOAD_LIMIT_DEFAULT ? 'payload-size' : null;
      case 'enroll':
        if (t.kind !== 'enroll' || t.reply || t.mac !== who.mac) return 'enroll-scope';
        return size > PAYLOAD_LIMIT_DEFAULT ? 'payload-size' : null;
      case 'agent':
        if (t.kind !== 'agent' || t.agent !== who.id || t.leaf !== 'req') return 'agent-scope';
        return size > PAYLOAD_LIMIT_DEFAULT ? 'payload-size' : null;
      case 'admin':
        if (t.kind !== 'admin' || t.admin !== who.id || t.leaf !== 'req') return 'admin-scope';
        return size > PAYLOAD_LIMIT_DEFAULT ? 'payload-size' : null;
      case 'customer':
        // A customer acts over REST only; over MQTT it listens.
        return 'customer-scope';
    }
  }

  readonly authorizeForward: AuthorizeForwardHandler = (client: Client, packet: AedesPublishPacket) => {
    const who = identityOf(client);
    if (who && this.mayReceive(who, packet.topic)) {
      this.metrics.messagesOut++;
      return packet;
    }
    this.metrics.aclDenials.inc({ rule: 'forward' });
    return null;
  };

  mayReceive(who: Identity, topic: string): boolean {
    if (who.kind === 'admin') return true;
    const t = parseTopic(topic);
    if (!t) return false;
    switch (who.kind) {
      case 'device':
        return t.kind === 'device' && t.device === who.id && (t.leaf === 'config' || t.leaf === 'cmd');
      case 'enroll':
        return t.kind === 'enroll' && t.reply && t.mac === who.mac;
      case 'agent':
        if (t.kind === 'agent') return t.agent === who.id && t.leaf !== 'req';
        return t.kind === 'device' && AGENT_VISIBLE.has(t.leaf) && this.bindings.agentOf(t.device) === who.id;
      case 'customer':
        return t.kind === 'order' && who.orders.has(t.order);
    }
  }
}

/** What may follow fb/v1/d/<dev>/ in an agent's filter; delivery is filtered by leaf anyway. */
function agentDeviceFilterOk(rest: string[]): boolean {
  const [a, b, ...more] = rest;
  if (more.length > 0 || a === undefined) return false;
  if (b === undefined) return a === 'status' || a === 'jobs' || a === 'shadow' || a === '+' || a === '#';
  return a === 'evt' && (b === '+' || b === '#' || (ID_PATTERN.test(b) && !b.includes('..')));
}
