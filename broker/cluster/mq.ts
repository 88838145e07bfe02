// MQTT traffic between nodes (docs/architecture.md, Cluster routing). A node delivers to its own
// subscribers at once, as a single node does, and sends a message over Redis only to the nodes
// whose clients subscribe to a matching filter, each on that node's own channel. Every node
// announces its filters through Redis before the SUBACK goes out, so a message published after a
// subscription was granted finds the subscribing node listed; what a node missed while Redis was
// away it reads again as a snapshot.
import { deserialize, serialize } from 'node:v8';
import MQEmitter from 'mqemitter';
import type { Logger } from '../logger';
import type { RedisLinks } from './redis';
import { FilterAcks } from './filter-acks';
import { type FilterChange, RemoteFilters, parseSnapshot } from './remote-filters';
import { type ScriptedRedis, keys } from './scripts';

export interface MqPacket {
  topic: string;
  payload: Buffer | string;
  [k: string]: unknown;
}
export type Done = (err?: Error) => void;
type Listener = (packet: MqPacket, done: () => void) => void;

const Emitter = MQEmitter as unknown as new () => {
  on(topic: string, listener: Listener, done?: () => void): unknown;
  removeListener(topic: string, listener: Listener, done?: () => void): unknown;
  emit(packet: MqPacket, done?: Done): void;
  close(done: () => void): void;
};

export interface MqOptions {
  links: RedisLinks;
  /** The command connection, with the scripts (its keys carry the prefix). */
  redis: ScriptedRedis;
  prefix: string;
  node: string;
  onError: (err: Error) => void;
  log: Logger;
  /** How long a new subscription waits for each other node to apply its filter (default 2 s). */
  ackTimeoutMs?: number;
}

export class ClusterMq extends Emitter {
  /** How many local listeners each filter has; a filter is announced while it has any. */
  private readonly local = new Map<string, number>();
  /** New filters whose announcement awaits the other nodes' confirmations. */
  private readonly announcing = new Map<string, Promise<void>>();
  private readonly remote: RemoteFilters;
  private readonly acks: FilterAcks;
  /** The highest change of each node applied since the last confirmations went out. */
  private readonly toConfirm = new Map<string, number>();
  private readonly inbox: string;
  private readonly acksIn: string;
  private readonly changes: string;
  private snapshotting: Promise<void> | null = null;
  private snapshotAgain = false;
  private readonly onMessage = (channel: Buffer, message: Buffer): void => this.received(channel.toString(), message);

  constructor(private readonly o: MqOptions) {
    super();
    this.inbox = inboxOf(o.prefix, o.node);
    this.acksIn = acksOf(o.prefix, o.node);
    this.changes = `${o.prefix}$filters`;
    this.remote = new RemoteFilters(o.node, {
      gap: () => void this.snapshot().catch(o.onError),
      applied: (node, seq) => this.confirm(node, seq),
    });
    this.acks = new FilterAcks(o.ackTimeoutMs ?? 2_000, (nodes) =>
      o.log.warn({ nodes }, 'nodes did not confirm a new subscription in time; not waiting for them until they answer'),
    );
  }

  /** Listens on this node's channels, announces its filters and reads everyone else's. */
  async start(): Promise<void> {
    this.o.links.sub.on('messageBuffer', this.onMessage);
    await this.o.links.sub.subscribe(this.inbox, this.acksIn, this.changes);
    await this.resync();
  }

  /**
   * After Redis was away: this node's filters may have changed meanwhile or been lost with Redis,
   * and other nodes' changes may have been missed.
   */
  async resync(): Promise<void> {
    const k = this.keysOf(this.o.node);
    // Numbering starts again if Redis lost the counter, so earlier confirmations say nothing.
    this.acks.reset();
    await this.o.redis.fbFilterReset(k.filters, k.seq, keys.filternodes, this.o.node, this.changes, ...this.local.keys());
    await this.snapshot();
  }

  /** A dead node's filters, dropped by the node that settles it (see NodeLiveness). */
  async forgetNode(node: string): Promise<void> {
    const k = this.keysOf(node);
    await this.o.redis.fbFilterGone(k.filters, k.seq, keys.filternodes, node, this.changes);
  }

  /** The filters this node knows another node to have (for tests and diagnostics). */
  filtersOf(node: string): string[] {
    return this.remote.filtersOf(node);
  }

  override on(topic: string, listener: Listener, done?: () => void): this {
    super.on(topic, listener);
    const n = (this.local.get(topic) ?? 0) + 1;
    this.local.set(topic, n);
    // A second subscriber to a filter still being announced is granted with the first, not before.
    const pending = this.announcing.get(topic);
    if (pending) {
      void pending.then(() => done?.());
      return this;
    }
    if (n > 1 || !this.redisReady()) {
      if (done) setImmediate(done);
      return this;
    }
    const announced: Promise<void> = this.announce('add', topic).finally(() => {
      if (this.announcing.get(topic) === announced) this.announcing.delete(topic);
    });
    this.announcing.set(topic, announced);
    void announced.then(() => done?.());
    return this;
  }

  override removeListener(topic: string, listener: Listener, done?: () => void): this {
    super.removeListener(topic, listener, done);
    const n = (this.local.get(topic) ?? 1) - 1;
    if (n > 0) {
      this.local.set(topic, n);
      return this;
    }
    this.local.delete(topic);
    // A subscriber coming back after this is announced afresh, behind the removal.
    this.announcing.delete(topic);
    if (this.redisReady()) void this.announce('del', topic);
    return this;
  }

  override emit(packet: MqPacket, done?: Done): void {
    const nodes = this.remote.nodesFor(packet.topic);
    // While Redis is down the node keeps serving its own clients (other nodes could not be
    // reached anyway); device traffic to agents is held back meanwhile (see BindingSync).
    if (nodes.size === 0 || this.o.links.pub.status !== 'ready') return super.emit(packet, done);
    const data = serialize(packet);
    let pending = nodes.size + 1;
    let failed: Error | undefined;
    const settle = (err?: Error): void => {
      if (err) failed ??= err;
      if (--pending > 0) return;
      if (done) done(failed);
      else if (failed) this.o.onError(failed);
    };
    for (const node of nodes) this.o.links.pub.publish(inboxOf(this.o.prefix, node), data).then(() => settle(), settle);
    super.emit(packet, settle);
  }

  override close(done: () => void): void {
    this.o.links.sub.off('messageBuffer', this.onMessage);
    super.close(done);
  }

  private received(channel: string, message: Buffer): void {
    if (channel === this.inbox) {
      let packet: MqPacket;
      try {
        packet = deserialize(message) as MqPacket;
      } catch (err) {
        this.o.onError(new Error(`a message from another node could not be decoded: ${(err as Error).message}`));
        return;
      }
      super.emit(packet);
    } else if (channel === this.acksIn) {
      const [peer, seq] = message.toString().split(' ');
      this.acks.ack(peer!, Number(seq));
    } else if (channel === this.changes) {
      let change: FilterChange;
      try {
        change = JSON.parse(message.toString()) as FilterChange;
      } catch (err) {
        this.o.onError(new Error(`a filter change could not be decoded: ${(err as Error).message}`));
        return;
      }
      if (change.op === 'gone') this.acks.forget(change.n);
      this.remote.receive(change);
    }
  }

  private async announce(op: 'add' | 'del', topic: string): Promise<void> {
    const k = this.keysOf(this.o.node);
    try {
      const seq = await this.o.redis.fbFilter(k.filters, k.seq, keys.filternodes, this.o.node, op, topic, this.changes);
      // A filter that goes away needs no confirmation: the other nodes' extra messages are
      // matched again here and go to no one.
      if (op === 'add') await this.acks.wait(seq, this.remote.peers());
    } catch (err) {
      // The node re-announces all its filters when Redis is back (resync).
      this.o.onError(err as Error);
    }
  }

  /**
   * One snapshot at a time; changes that arrive meanwhile are replayed on top of it, and a gap
   * found in those replays reads another one.
   */
  private snapshot(): Promise<void> {
    if (this.snapshotting) {
      this.snapshotAgain = true;
      return this.snapshotting;
    }
    this.snapshotting = (async () => {
      this.remote.hold();
      try {
        this.remote.applySnapshot(parseSnapshot(await this.o.redis.fbFilterSnapshot(keys.filternodes, this.o.prefix)));
      } catch (err) {
        this.remote.release();
        throw err;
      } finally {
        this.snapshotting = null;
      }
      if (this.snapshotAgain) {
        this.snapshotAgain = false;
        await this.snapshot();
      }
    })();
    return this.snapshotting;
  }

  /** Confirms to each node the changes applied this turn, one message per node. */
  private confirm(node: string, seq: number): void {
    if (this.toConfirm.size === 0) setImmediate(() => this.sendConfirmations());
    if (seq > (this.toConfirm.get(node) ?? 0)) this.toConfirm.set(node, seq);
  }

  private sendConfirmations(): void {
    for (const [node, seq] of this.toConfirm) {
      this.o.links.pub.publish(acksOf(this.o.prefix, node), `${this.o.node} ${seq}`).catch(this.o.onError);
    }
    this.toConfirm.clear();
  }

  private redisReady(): boolean {
    return this.o.redis.status === 'ready';
  }

  private keysOf(node: string): { filters: string; seq: string } {
    return { filters: keys.filters(node), seq: keys.filterseq(node) };
  }
}

function inboxOf(prefix: string, node: string): string {
  return `${prefix}$node/${node}`;
}

function acksOf(prefix: string, node: string): string {
  return `${prefix}$acks/${node}`;
}

export async function createMq(o: MqOptions): Promise<ClusterMq> {
  const mq = new ClusterMq(o);
  await mq.start();
  return mq;
}

/**
 * Listens for JSON messages other nodes send on a cluster topic ($SYS/…, which no MQTT client
 * may publish or receive). Resolves once the subscription is in place.
 */
export function listen<T>(mq: ClusterMq, topic: string, log: Logger, what: string, onMessage: (msg: T) => void): Promise<void> {
  return new Promise((resolve) =>
    mq.on(
      topic,
      (packet, done) => {
        done();
        let msg: T;
        try {
          msg = JSON.parse(packet.payload.toString()) as T;
        } catch (err) {
          log.error({ err, topic }, `malformed ${what} from another node`);
          return;
        }
        onMessage(msg);
      },
      resolve,
    ),
  );
}

/** Sends a JSON message to the nodes listening on a cluster topic. */
export function send(mq: ClusterMq, topic: string, msg: unknown, log: Logger, what: string): void {
  mq.emit({ topic, payload: Buffer.from(JSON.stringify(msg)) }, (err) => {
    if (err) log.warn({ err: err.message, topic }, `${what} could not be sent to the other nodes`);
  });
}
