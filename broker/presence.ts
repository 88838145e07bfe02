// Truthful presence (docs/architecture.md, Presence). A device is online while any of its authenticated
// connections is open; the close of an older connection after a takeover is stale and changes
// nothing. After the last connection closes the device is "reconnecting" for the grace window,
// then "offline" with the reason of that close. A connection that replaces an online one is
// "online" with reason "takeover".
import type { OfflineReason, Status } from '../protocol/messages';

export type PresenceListener = (device: string, status: Status) => void;

/** What the broker asks of presence; a cluster node implements it on Redis (cluster/presence.ts). */
export interface Presence {
  nextConn(): number | Promise<number>;
  /** Resolves once the connection counts for the device's presence everywhere it is read. */
  opened(device: string, conn: number): void | Promise<void>;
  registered(device: string, conn: number): void;
  closed(device: string, conn: number, reason: OfflineReason): void;
  afterRestart(seen: string[], neverSeen: string[]): void | Promise<void>;
  status(device: string): Status;
  isOnline(device: string): boolean;
  forget(device: string): void;
  stop(): void;
}

/** Presence of one node on its own, in memory. */
export class LocalPresence implements Presence {
  private readonly live = new Map<string, Set<number>>();
  private readonly states = new Map<string, Status>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private counter: number;

  constructor(
    private readonly graceMs: number,
    private readonly listener: PresenceListener,
    private readonly now: () => number = Date.now,
    /** Connection numbers stay monotonic across restarts of this node by starting at wall time. */
    firstConn: number = Date.now() * 1000,
  ) {
    this.counter = firstConn;
  }

  nextConn(): number {
    return ++this.counter;
  }

  /** A connection passed authentication; from now its close is judged against newer ones. */
  opened(device: string, conn: number): void {
    let set = this.live.get(device);
    if (!set) this.live.set(device, (set = new Set()));
    set.add(conn);
  }

  /** The connection is registered with the broker: the device is online. */
  registered(device: string, conn: number): void {
    if (!this.live.get(device)?.has(conn)) return;
    const timer = this.timers.get(device);
    if (timer) clearTimeout(timer);
    this.timers.delete(device);
    const cur = this.states.get(device);
    if (cur?.state === 'online' && cur.conn >= conn) return;
    // A newer connection while the device was online: it replaced its own connection.
    this.set(device, { state: 'online', conn, since: this.now(), ...(cur?.state === 'online' ? { reason: 'takeover' as const } : {}) });
  }

  /** Returns false when the close was stale (another connection of the device is still open). */
  closed(device: string, conn: number, reason: OfflineReason): boolean {
    const set = this.live.get(device);
    if (!set || !set.delete(conn)) return false;
    if (set.size > 0) return false;
    this.live.delete(device);
    if (this.states.get(device)?.state !== 'online') return true;
    this.set(device, { state: 'reconnecting', conn, since: this.now(), reason });
    this.startGrace(device);
    return true;
  }

  /**
   * After a broker restart, devices seen before get the grace window to come back. Their
   * reconnecting status is announced: the retained statuses did not survive the restart.
   */
  afterRestart(seen: string[], neverSeen: string[]): void {
    const now = this.now();
    for (const d of neverSeen) this.states.set(d, { state: 'offline', conn: 0, since: now, reason: 'never-connected' });
    for (const d of seen) {
      if (this.states.has(d)) continue;
      this.set(d, { state: 'reconnecting', conn: 0, since: now, reason: 'broker-restart' });
      this.startGrace(d);
    }
  }

  status(device: string): Status {
    return this.states.get(device) ?? { state: 'offline', conn: 0, since: 0, reason: 'never-connected' };
  }

  isOnline(device: string): boolean {
    return this.states.get(device)?.state === 'online';
  }

  forget(device: string): void {
    const timer = this.timers.get(device);
    if (timer) clearTimeout(timer);
    this.timers.delete(device);
    this.states.delete(device);
    this.live.delete(device);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private startGrace(device: string): void {
    const old = this.timers.get(device);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      this.timers.delete(device);
      const cur = this.states.get(device);
      if (cur?.state !== 'reconnecting') return;
      this.set(device, { state: 'offline', conn: cur.conn, since: this.now(), reason: cur.reason ?? 'socket' });
    }, this.graceMs);
    timer.unref();
    this.timers.set(device, timer);
  }

  private set(device: string, s: Status): void {
    this.states.set(device, s);
    this.listener(device, s);
  }
}
