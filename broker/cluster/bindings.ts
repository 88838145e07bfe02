// Keeps every node's in-memory ACL map in step with the bindings in PostgreSQL. A committed
// change goes out on the same Redis connection as the MQTT traffic, so another node applies it
// before any message sent after it; versions make late or repeated changes harmless. When the
// link to Redis breaks, the node may miss changes: until it has reloaded the map from the
// database its ACL treats every device as bound to no one, so no agent receives device traffic
// it might no longer be entitled to.
import type { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { BindingMap } from '../binding-map';
import type { BrokerEvents } from '../events';
import type { Logger } from '../logger';
import { allBindings } from '../store/bindings';
import type { Database } from '../store/schema';
import type { Health } from './health';
import { type ClusterMq, listen, send } from './mq';

export const BINDINGS_TOPIC = '$SYS/fleetbind/bindings';
export const BINDING_MAP_CHECK = 'binding map';

type Wire =
  | { n: string; k: 'bind'; d: string; a: string | null; v: number }
  | { n: string; k: 'forget'; d: string }
  /** A node reconnected to Redis: everyone reloads, in case its own changes were lost. */
  | { n: string; k: 'resync'; r: string };

export class SyncedBindingMap extends BindingMap {
  /** The map may be missing changes (Redis was unreachable) until the resync is done. */
  suspended = false;
  onForget: ((device: string) => void) | null = null;

  /**
   * What the per-message ACL reads: while suspended no device is bound to anyone, so no agent
   * receives device traffic it might no longer be entitled to. (The job system keeps reading
   * the map itself: a suspension must not look like a release and cancel queued jobs.)
   */
  readonly forAcl = { agentOf: (device: string): string | null => (this.suspended ? null : this.agentOf(device)) };

  override forget(device: string): void {
    super.forget(device);
    this.onForget?.(device);
  }

  forgetQuietly(device: string): void {
    super.forget(device);
  }
}

export interface BindingSyncDeps {
  mq: ClusterMq;
  map: SyncedBindingMap;
  db: Kysely<Database>;
  node: string;
  log: Logger;
  health: Health;
}

export class BindingSync {
  private readonly echoes = new Map<string, () => void>();
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private stopped = false;

  constructor(private readonly d: BindingSyncDeps) {}

  async start(events: EventEmitter<BrokerEvents>): Promise<void> {
    await listen<Wire>(this.d.mq, BINDINGS_TOPIC, this.d.log, 'binding change', (w) => this.onMessage(w));
    events.on('binding', (c) => this.send({ n: this.d.node, k: 'bind', d: c.device, a: c.to, v: c.version }));
    this.d.map.onForget = (device) => this.send({ n: this.d.node, k: 'forget', d: device });
    this.d.health.set(BINDING_MAP_CHECK, true);
  }

  /** The link to Redis broke: hold device traffic to agents back until resync() is done. */
  suspend(): void {
    if (this.d.map.suspended) return;
    this.d.map.suspended = true;
    this.d.health.set(BINDING_MAP_CHECK, false, 'reloading from the database after a Redis outage; device traffic to agents is held back');
  }

  /**
   * Back on Redis: confirm the subscription is live (our own announcement comes back), then reload
   * from the database, so no change committed meanwhile is missed. Retries until it succeeds.
   */
  async resync(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const r = randomUUID();
        const echoed = new Promise<void>((resolve, reject) => {
          this.echoes.set(r, resolve);
          setTimeout(() => reject(new Error('own resync announcement did not come back from Redis within 5 s')), 5_000).unref();
        }).finally(() => this.echoes.delete(r));
        this.send({ n: this.d.node, k: 'resync', r });
        await echoed;
        await this.reload();
        this.d.map.suspended = false;
        this.d.health.set(BINDING_MAP_CHECK, true);
        this.d.log.info({ attempt }, 'binding map resynchronised after a Redis outage');
        return;
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message, attempt }, 'binding map resync failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(1_000 * attempt, 5_000)).unref());
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Applies the database's bindings; a change made during the read is newer and wins anyway. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const before = new Map([...this.d.map.entries()].map(([device, b]) => [device, b.version]));
        const rows = await allBindings(this.d.db);
        const present = new Set<string>();
        for (const b of rows) {
          present.add(b.id);
          this.d.map.apply(b.id, b.agent_id, Number(b.binding_version));
        }
        // Deleted devices; one that a message added while the query ran is not in `before`.
        for (const [device, b] of [...this.d.map.entries()]) if (!present.has(device) && before.get(device) === b.version) this.d.map.forgetQuietly(device);
      } while (this.reloadAgain);
    })().finally(() => (this.reloading = null));
    return this.reloading;
  }

  private send(w: Wire): void {
    send(this.d.mq, BINDINGS_TOPIC, w, this.d.log, 'binding change');
  }

  /** Applied synchronously on arrival: an MQTT message sent after the change is handled after it. */
  private onMessage(w: Wire): void {
    if (w.k === 'resync') {
      this.echoes.get(w.r)?.();
      if (w.n !== this.d.node) this.reload().catch((err: unknown) => this.d.log.error({ err }, 'reloading bindings for another node failed'));
    } else if (w.n !== this.d.node) {
      if (w.k === 'bind') this.d.map.apply(w.d, w.a, w.v);
      else this.d.map.forgetQuietly(w.d);
    }
  }
}
