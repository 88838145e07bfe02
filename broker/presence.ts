// Truthful presence (docs/architecture.md, Presence). A device is online while any of its authenticated
// connections is open; the close of an older connection after a takeover is stale and changes
// nothing. After the last connection closes the device is "reconnecting" for the grace window,
// then "offline" with the reason of that close. A connection that replaces an online one is
// "online" with reason "takeover".
import type { OfflineReason, Status } from '../protocol/messages';
import { type Clock, type Timer, systemClock } from './clock';

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

/**
 * Presence of one node on its own, in memory. Per device it keeps the open connection's number
 * (a set only while a takeover overlaps two) and its status; the grace windows share one timer,
 * since every window is equally long and so they end in the order they began.
 */
export class LocalPresence implements Presence {
  private readonly live = new Map<string, number | Set<number>>();
  private readonly states = new Map<string, Status>();
  /** Devices in their grace window and when it ends, in the order the windows end. */
  private readonly graceEnds = new Map<string, number>();
  private graceTimer: Timer | null = null;
  private counter: number;

  constructor(
    private readonly graceMs: number,
    private readonly listener: PresenceListener,
    private readonly clock: Clock = systemClock,
    /** Connection numbers stay monotonic across restarts of this node by starting at wall time. */
    firstConn: number = Date.now() * 1000,
  ) {
    this.counter = firstConn;
  }

  private now(): number {
    return this.clock.now();
  }

  nextConn(): number {
    return ++this.counter;
  }

  /** A connection passed authentication; from now its close is judged against newer ones. */
  opened(device: string, conn: number): void {
    const cur = this.live.get(device);
    if (cur === undefined) this.live.set(device, conn);
    else if (typeof cur === 'number') this.live.set(device, new Set([cur, conn]));
    else cur.add(conn);
  }

  /** The connection is registered with the broker: the device is online. */
  registered(device: string, conn: number): void {
    const cur = this.live.get(device);
    if (cur === undefined || (typeof cur === 'number' ? cur !== conn : !cur.has(conn))) return;
    this.graceEnds.delete(device);
    const state = this.states.get(device);
    if (state?.state === 'online' && state.conn >= conn) return;
    // A newer connection while the device was online: it replaced its own connection.
    this.set(device, { state: 'online', conn, since: this.now(), ...(state?.state === 'online' ? { reason: 'takeover' as const } : {}) });
  }

  /** Returns false when the close was stale (another connection of the device is still open). */
  closed(device: string, conn: number, reason: OfflineReason): boolean {
    const cur = this.live.get(device);
    if (cur === undefined) return false;
    if (typeof cur === 'number') {
      if (cur !== conn) return false;
    } else {
      if (!cur.delete(conn)) return false;
      if (cur.size > 0) {
        if (cur.size === 1) this.live.set(device, cur.values().next().value!);
        return false;
      }
    }
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
    this.graceEnds.delete(device);
    this.states.delete(device);
    this.live.delete(device);
  }

  stop(): void {
    this.graceTimer?.cancel();
    this.graceTimer = null;
    this.graceEnds.clear();
  }

  private startGrace(device: string): void {
    // Deleted first, so the device moves to the end: the windows stay in the order they end.
    this.graceEnds.delete(device);
    this.graceEnds.set(device, this.now() + this.graceMs);
    if (!this.graceTimer) this.armGrace(this.graceMs);
  }

  private armGrace(delayMs: number): void {
    this.graceTimer = this.clock.after(Math.max(0, delayMs), () => this.endGraces());
  }

  private endGraces(): void {
    this.graceTimer = null;
    const now = this.now();
    for (const [device, end] of this.graceEnds) {
      if (end > now) return this.armGrace(end - now);
      this.graceEnds.delete(device);
      const cur = this.states.get(device);
      if (cur?.state !== 'reconnecting') continue;
      this.set(device, { state: 'offline', conn: cur.conn, since: now, reason: cur.reason ?? 'socket' });
    }
  }

  private set(device: string, s: Status): void {
    this.states.set(device, s);
    this.listener(device, s);
  }
}
