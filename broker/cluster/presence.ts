// Cluster-wide presence (docs/architecture.md, Presence). Connection numbers come from one Redis counter; the
// online / reconnecting / offline decisions are atomic scripts on Redis (scripts.ts),
// so a device that moved to another node is never shown offline by its old node's late
// disconnect. The node whose script made a change announces it (retained status, bindings);
// every node keeps a mirror for the per-message reads and runs the grace timers, so the
// offline decision is taken even when the node that saw the disconnect has died since.
import type { OfflineReason, PresenceState, Status } from '../../protocol/messages';
import { type Clock, type Timer, systemClock } from '../clock';
import type { Logger } from '../logger';
import type { Presence, PresenceListener } from '../presence';
import { type ClusterMq, listen, send } from './mq';
import { type ScriptedRedis, keys } from './scripts';

export const PRESENCE_TOPIC = '$SYS/fleetbind/presence';

interface Wire {
  n: string;
  d: string;
  s?: Status;
  forget?: true;
}

const NEVER: Status = { state: 'offline', conn: 0, since: 0, reason: 'never-connected' };
const RANK: Record<PresenceState, number> = { online: 0, reconnecting: 1, offline: 2 };

/** Statuses of one device only move forward: to a newer connection, or along online → reconnecting → offline. */
function isNewer(s: Status, than: Status | undefined): boolean {
  if (!than) return true;
  return s.conn !== than.conn ? s.conn > than.conn : RANK[s.state] > RANK[than.state];
}

export interface ClusterPresenceDeps {
  redis: ScriptedRedis;
  mq: ClusterMq;
  node: string;
  graceMs: number;
  listener: PresenceListener;
  log: Logger;
  /** The broker's clock (broker/clock.ts): a test ends grace windows by moving it on. */
  clock?: Clock;
}

export class ClusterPresence implements Presence {
  private readonly mirror = new Map<string, Status>();
  /** Online as this node sees it while the script that makes it so is on its way. */
  private readonly pending = new Map<string, Status>();
  private readonly timers = new Map<string, Timer>();
  /** This node's open device connections: device → conn → registered. */
  private readonly local = new Map<string, Map<number, boolean>>();
  private readonly redis: ScriptedRedis;
  private readonly clock: Clock;
  private stopped = false;

  constructor(private readonly d: ClusterPresenceDeps) {
    this.redis = d.redis;
    this.clock = d.clock ?? systemClock;
  }

  private now(): number {
    return this.clock.now();
  }

  start(): Promise<void> {
    return listen<Wire>(this.d.mq, PRESENCE_TOPIC, this.d.log, 'presence change', (w) => {
      if (w.n === this.d.node) return;
      if (w.forget) this.dropLocal(w.d);
      else if (w.s) this.apply(w.d, w.s);
    });
  }

  async nextConn(): Promise<number> {
    return Number(await this.redis.fbNextConn(keys.conn, String(Date.now() * 1000)));
  }

  async opened(device: string, conn: number): Promise<void> {
    let conns = this.local.get(device);
    if (!conns) this.local.set(device, (conns = new Map()));
    conns.set(conn, false);
    await this.redis.fbOpened(keys.live(device), keys.nodeconns(this.d.node), String(conn), this.d.node, keys.member(conn, device));
  }

  registered(device: string, conn: number): void {
    const conns = this.local.get(device);
    if (!conns?.has(conn)) return;
    conns.set(conn, true);
    // The device's own status publish may be handled before the script answers; it must already
    // read online here.
    const prev = this.mirror.get(device);
    const online: Status = { state: 'online', conn, since: this.now(), ...(prev?.state === 'online' ? { reason: 'takeover' as const } : {}) };
    if (isNewer(online, prev)) this.pending.set(device, online);
    const script = this.redis.fbRegistered(keys.live(device), keys.st, keys.sc, device, String(conn), String(online.since));
    this.run(
      'registered',
      device,
      script.finally(() => this.pending.get(device) === online && this.pending.delete(device)),
    );
  }

  closed(device: string, conn: number, reason: OfflineReason): void {
    const conns = this.local.get(device);
    conns?.delete(conn);
    if (conns?.size === 0) this.local.delete(device);
    // A stopping node leaves its connections to the node that settles it, as if it had died.
    if (this.stopped) return;
    this.run('closed', device, this.closeScript(device, conn, this.d.node, reason));
  }

  async afterRestart(seen: string[], neverSeen: string[]): Promise<void> {
    await this.loadMirror();
    for (const device of neverSeen) if (!this.mirror.has(device)) this.mirror.set(device, NEVER);
    // Devices the cluster has no word on (first start on this Redis, or Redis lost its data).
    await Promise.all(
      seen
        .filter((device) => !this.mirror.has(device))
        .map((device) => this.init(device, { state: 'reconnecting', conn: 0, since: this.now(), reason: 'broker-restart' })),
    );
  }

  status(device: string): Status {
    return this.pending.get(device) ?? this.mirror.get(device) ?? NEVER;
  }

  isOnline(device: string): boolean {
    return this.status(device).state === 'online';
  }

  forget(device: string): void {
    this.dropLocal(device);
    this.local.delete(device);
    this.redis
      .multi()
      .del(keys.live(device))
      .hdel(keys.st, device)
      .hdel(keys.sc, device)
      .exec()
      .catch((err: unknown) => this.d.log.error({ err, device }, 'forgetting presence in Redis failed'));
    this.broadcast({ n: this.d.node, d: device, forget: true });
  }

  /**
   * Resolves once every script this node sent before the call has been answered and its answer
   * applied: a round trip on the same Redis connection, then the callbacks that apply the earlier
   * answers (a few promise steps each). A test proves with it that no presence decision is still
   * on its way.
   */
  async settled(): Promise<void> {
    await this.redis.ping();
    await new Promise((resolve) => setImmediate(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  /** Connections of a node that died: each one closes as the node's stop would have. */
  async settleNode(node: string): Promise<void> {
    const members = await this.redis.smembers(keys.nodeconns(node));
    for (const m of members) {
      const [conn, device] = m.split(' ') as [string, string];
      const s = await this.closeScript(device, Number(conn), node, 'broker-restart');
      if (s) this.commit(device, s);
    }
  }

  /**
   * After Redis came back: this node re-asserts its own connections, settles the ones that closed
   * meanwhile, and takes Redis' word on everything else.
   */
  async reconcile(): Promise<void> {
    for (const [device, conns] of this.local) {
      for (const [conn, registered] of conns) {
        await this.redis.fbOpened(keys.live(device), keys.nodeconns(this.d.node), String(conn), this.d.node, keys.member(conn, device));
        if (!registered) continue;
        const s = await this.redis.fbRegistered(keys.live(device), keys.st, keys.sc, device, String(conn), String(this.now()));
        if (s) this.commit(device, JSON.parse(s) as Status);
      }
    }
    for (const m of await this.redis.smembers(keys.nodeconns(this.d.node))) {
      const [conn, device] = m.split(' ') as [string, string];
      if (this.local.get(device)?.has(Number(conn))) continue;
      const s = await this.closeScript(device, Number(conn), this.d.node, 'socket');
      if (s) this.commit(device, s);
    }
    const known = await this.loadMirror();
    for (const [device, s] of this.mirror) if (!known.has(device) && s !== NEVER) await this.init(device, s);
    for (const [device, s] of this.mirror) if (s.state === 'reconnecting') this.schedule(device, s);
  }

  private async closeScript(device: string, conn: number, node: string, reason: OfflineReason): Promise<Status | null> {
    const s = await this.redis.fbClosed(
      keys.live(device),
      keys.nodeconns(node),
      keys.st,
      keys.sc,
      device,
      String(conn),
      keys.member(conn, device),
      String(this.now()),
      reason,
    );
    return s === null ? null : (JSON.parse(s) as Status);
  }

  private async init(device: string, s: Status): Promise<void> {
    const json = await this.redis.fbInit(keys.st, keys.sc, device, JSON.stringify(s), s.state, String(s.conn));
    if (json !== null) return this.commit(device, s);
    const cur = await this.redis.hget(keys.st, device);
    if (cur) this.apply(device, JSON.parse(cur) as Status);
  }

  private async loadMirror(): Promise<Set<string>> {
    const all = await this.redis.hgetall(keys.st);
    for (const [device, json] of Object.entries(all)) this.apply(device, JSON.parse(json) as Status);
    return new Set(Object.keys(all));
  }

  private run(what: string, device: string, script: Promise<string | Status | null>): void {
    script.then(
      (s) => {
        if (s) this.commit(device, typeof s === 'string' ? (JSON.parse(s) as Status) : s);
      },
      // Redis is down: reconcile() settles this once it is back.
      (err: unknown) => this.d.log.warn({ err: (err as Error).message, device }, `presence ${what} could not reach Redis`),
    );
  }

  /** A change this node's script made: apply, announce, and tell the other nodes. */
  private commit(device: string, s: Status): void {
    if (!this.apply(device, s)) return;
    this.broadcast({ n: this.d.node, d: device, s });
    if (!this.stopped) this.d.listener(device, s);
  }

  private apply(device: string, s: Status): boolean {
    if (!isNewer(s, this.mirror.get(device))) return false;
    this.mirror.set(device, s);
    if (s.state === 'reconnecting') this.schedule(device, s);
    else this.clearTimer(device);
    return true;
  }

  private schedule(device: string, s: Status): void {
    this.clearTimer(device);
    if (this.stopped) return;
    // Every node runs the timer; the script lets exactly one of them turn the device offline.
    const delay = Math.max(0, s.since + this.d.graceMs - this.now()) + Math.floor(Math.random() * 50);
    const timer = this.clock.after(delay, () => {
      this.timers.delete(device);
      this.run('expiry', device, this.redis.fbExpire(keys.st, keys.sc, device, String(s.conn), String(this.now())));
    });
    this.timers.set(device, timer);
  }

  private clearTimer(device: string): void {
    this.timers.get(device)?.cancel();
    this.timers.delete(device);
  }

  private dropLocal(device: string): void {
    this.clearTimer(device);
    this.mirror.delete(device);
    this.pending.delete(device);
  }

  private broadcast(w: Wire): void {
    send(this.d.mq, PRESENCE_TOPIC, w, this.d.log, 'presence change');
  }
}
