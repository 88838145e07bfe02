// One broker node on shared backends. With a database URL the registry is PostgreSQL and its
// health is watched; with a Redis URL too, the node joins a cluster: MQTT traffic, retained
// messages, presence, binding changes and claim codes are shared with the other nodes.
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Aedes } from 'aedes';
import { hostname } from 'node:os';
import { type Kysely, sql } from 'kysely';
import { BindingMap } from '../binding-map';
import { ClaimCodes } from '../claim-codes';
import type { BrokerOptions } from '../config';
import type { BrokerEvents, KickTarget } from '../events';
import type { OfflineReason } from '../../protocol/messages';
import type { JobRpc } from '../jobs/job-rpc';
import type { DispatchLease } from '../jobs/lease';
import type { Logger } from '../logger';
import type { Presence, PresenceListener } from '../presence';
import type { Registry } from '../store/db';
import { openPostgres, redactUrl } from '../store/postgres';
import type { Database } from '../store/schema';
import { BindingSync, SyncedBindingMap } from './bindings';
import { ClaimCodeSync } from './claim-codes';
import { Health } from './health';
import { type AedesPersistence, type ClusterMq, createMq, createPersistence, listen, send } from './mq';
import { NodeLiveness } from './nodes';
import { ClusterPresence } from './presence';
import { ClusterLease } from './lease';
import { NodeRpc } from './rpc';
import { type ScriptedRedis, keys, withScripts } from './scripts';
import { RedisLoginWindows } from './login-windows';
import { type LinkName, type RedisLinks, closeLinks, connectRedis, linksDown, openLinks } from './redis';

export const POSTGRES_CHECK = 'postgres';
export const REDIS_CHECK = 'redis';
/** Serialises first-run bootstrap (label key, first admin) between nodes starting together. */
const STARTUP_LOCK = 0x66626e64;

interface RedisParts {
  links: RedisLinks;
  redis: ScriptedRedis;
  mq: ClusterMq;
  persistence: AedesPersistence;
  map: SyncedBindingMap;
  sync: BindingSync;
  codes: ClaimCodeSync;
  rpc: NodeRpc<NodeOps>;
  lease: ClusterLease;
  presence: ClusterPresence | null;
  liveness: NodeLiveness | null;
}

/** What nodes ask of each other: the dispatcher's job operations, and closing connections. */
type NodeOps = JobRpc & { kick(target: KickTarget, reason: OfflineReason): Promise<number> };

async function openRedis(opts: BrokerOptions, url: string, node: string, db: Kysely<Database>, health: Health, log: Logger): Promise<RedisParts> {
  const links = connectRedis(url, opts.redisPrefix);
  await openLinks(links, url);
  const onError = (err: Error): void => log.debug({ err: err.message }, 'a Redis command failed');
  const mq = createMq(links, opts.redisPrefix, onError);
  const map = new SyncedBindingMap();
  const redis = withScripts(links.command);
  const rpc = new NodeRpc<NodeOps>(mq, node, log);
  return {
    links,
    redis,
    mq,
    persistence: createPersistence(links, onError),
    map,
    sync: new BindingSync({ mq, map, db, node, log, health }),
    codes: new ClaimCodeSync(mq, links.command, node, log),
    rpc,
    lease: new ClusterLease(redis, rpc, node, log),
    presence: null,
    liveness: null,
  };
}

/**
 * What a node's cluster link reads of the broker once MQTT exists: the node's context itself, named
 * by the slice used, since the context names this class among its services.
 */
export interface AttachedBroker {
  aedes: Aedes;
  events: EventEmitter<BrokerEvents>;
  readonly closing: boolean;
}

export class ClusterNode {
  readonly bindings: BindingMap;
  readonly claimCodes: ClaimCodes;
  /** The binding map as the per-message ACL reads it (see SyncedBindingMap.forAcl). */
  readonly aclBindings: Pick<BindingMap, 'agentOf'>;
  /** Who dispatches each device's jobs; null without Redis (then this node does). */
  readonly lease: DispatchLease | null;
  private redisDown = false;
  private recovering: Promise<void> | null = null;
  private ctx: AttachedBroker | null = null;

  private constructor(
    readonly id: string,
    private readonly opts: BrokerOptions,
    readonly registry: Registry,
    readonly health: Health,
    private readonly log: Logger,
    private readonly redis: RedisParts | null,
  ) {
    this.bindings = redis ? redis.map : new BindingMap();
    this.aclBindings = redis ? redis.map.forAcl : this.bindings;
    this.claimCodes = redis ? redis.codes.codes : new ClaimCodes();
    this.lease = redis?.lease ?? null;
  }

  /** The binding map may be missing changes (Redis was unreachable): the ACL holds device traffic back. */
  get bindingsSuspended(): boolean {
    return this.redis?.map.suspended ?? false;
  }

  static async open(opts: BrokerOptions, baseLog: Logger): Promise<ClusterNode> {
    const url = opts.databaseUrl;
    if (url === undefined) throw new Error('a cluster node needs --database-url');
    const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const log = baseLog.child({ part: 'cluster', node: id });
    const health = new Health(log);
    const registry = await openPostgres(url, {
      onConnectionError: (err) => {
        health.set(POSTGRES_CHECK, false, err.message);
        void health.probeNow();
      },
    });
    health.addProbe(POSTGRES_CHECK, async () => void (await sql`select 1`.execute(registry.db)));
    let parts: RedisParts | null = null;
    if (opts.redisUrl !== undefined) {
      try {
        parts = await openRedis(opts, opts.redisUrl, id, registry.db, health, log);
      } catch (err) {
        await registry.close();
        throw err;
      }
      const links = parts.links;
      health.addProbe(REDIS_CHECK, async () => {
        const down = linksDown(links);
        if (down.length > 0) throw new Error(`connection${down.length > 1 ? 's' : ''} ${down.join(', ')} not ready`);
        await links.command.ping();
      });
    }
    log.info(
      { database: redactUrl(url), redis: opts.redisUrl === undefined ? null : redactUrl(opts.redisUrl), prefix: opts.redisPrefix },
      parts ? 'cluster node' : 'single node on PostgreSQL',
    );
    return new ClusterNode(id, opts, registry, health, log, parts);
  }

  get clustered(): boolean {
    return this.redis !== null;
  }

  /** Aedes options that put its message routing and persistence on Redis. */
  aedesOptions(): { id?: string; mq?: unknown; persistence?: unknown } {
    return this.redis ? { id: this.id, mq: this.redis.mq, persistence: this.redis.persistence } : {};
  }

  /** This node's Redis command connection (keys under the fleet's prefix), or null without Redis. */
  commandRedis(): ScriptedRedis | null {
    return this.redis?.redis ?? null;
  }

  /**
   * A channel between the nodes on `topic`, for caches that must follow changes made elsewhere:
   * resolves, once listening, with the sender (this node's own messages never come back), or
   * null without Redis. It shares the Redis connection with MQTT traffic, so a message sent
   * before a publish is handled on every node before that publish is delivered.
   */
  async channel<T>(topic: string, what: string, onMessage: (msg: T) => void): Promise<((msg: T) => void) | null> {
    const parts = this.redis;
    if (!parts) return null;
    await listen<{ n: string; m: T }>(parts.mq, topic, this.log, what, (w) => {
      if (w.n !== this.id) onMessage(w.m);
    });
    return (m) => send(parts.mq, topic, { n: this.id, m }, this.log, what);
  }

  /**
   * Takes a token from an agent's request bucket shared by every node (docs/architecture.md,
   * Request rate limits); null when this node has no Redis. Resolves 0, or the wait in ms.
   */
  sharedRequestBucket(): ((agent: string, rate: number, burst: number) => Promise<number>) | null {
    const parts = this.redis;
    if (!parts) return null;
    return async (agent, rate, burst) => Number(await parts.redis.fbTakeToken(keys.requestBucket(agent), String(rate), String(burst)));
  }

  /** Failed-login windows shared by every node (docs/architecture.md, Identities: lockouts); null without Redis. */
  sharedLoginWindows(): RedisLoginWindows | null {
    return this.redis ? new RedisLoginWindows(this.redis.redis, this.opts.redisPrefix) : null;
  }

  /** Cluster-wide presence, or null when this node has no Redis (then presence is local). */
  presence(listener: PresenceListener): Presence | null {
    if (!this.redis) return null;
    const p = new ClusterPresence({
      redis: this.redis.redis,
      mq: this.redis.mq,
      node: this.id,
      graceMs: this.opts.graceMs,
      listener,
      log: this.log,
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
    });
    this.redis.presence = p;
    return p;
  }

  /** Runs fn while no other node runs its own startup section. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.registry.db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${STARTUP_LOCK})`.execute(conn);
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(${STARTUP_LOCK})`.execute(conn);
      }
    });
  }

  /** Closes the target's connections on the other live nodes; resolves with how many they closed. */
  async kickElsewhere(target: KickTarget, reason: OfflineReason): Promise<number> {
    const r = this.redis;
    if (!r) return 0;
    const others = (await r.redis.hkeys(keys.nodes)).filter((n) => n !== this.id);
    const closed = await Promise.all(
      others.map((node) =>
        r.rpc.call(node, 'kick', [target, reason]).then(
          (n) => Number(n),
          (err: unknown) => {
            this.log.warn({ node, target, err: (err as Error).message }, 'a node did not confirm closing connections');
            return 0;
          },
        ),
      ),
    );
    return closed.reduce((a, b) => a + b, 0);
  }

  async attach(ctx: AttachedBroker, kickHere: (target: KickTarget, reason: OfflineReason) => number): Promise<void> {
    this.ctx = ctx;
    this.health.start();
    // Redis errors reach Aedes too (a publish whose connection broke); without a listener the
    // emitter would throw them.
    (ctx.aedes as unknown as EventEmitter).on('error', (err: Error) => this.log.warn({ err: err.message }, 'Aedes reported an error'));
    const r = this.redis;
    if (!r) return;
    await r.sync.start(ctx.events);
    await r.codes.start();
    r.rpc.handle('kick', async (target, reason) => kickHere(target, reason));
    await r.rpc.start();
    if (r.presence) {
      await r.presence.start();
      const presence = r.presence;
      r.liveness = new NodeLiveness(r.redis, this.id, this.log, async (node) => {
        await presence.settleNode(node);
        await r.lease.settleNode(node);
      });
      await r.liveness.start();
    }
    for (const [name, link] of Object.entries(r.links) as [LinkName, RedisLinks[LinkName]][]) {
      link.on('error', (err: Error) => this.log.debug({ link: name, err: err.message }, 'redis connection error'));
      link.on('close', () => this.linkDown(name));
      link.on('ready', () => this.linkUp());
    }
  }

  private linkDown(name: LinkName): void {
    // Aedes quits the Redis connections when the node stops; that is no outage.
    if (this.redisDown || this.ctx?.closing) return;
    this.redisDown = true;
    this.health.set(REDIS_CHECK, false, `connection ${name} lost`);
    this.redis?.sync.suspend();
  }

  private linkUp(): void {
    const r = this.redis;
    if (!r || !this.redisDown || linksDown(r.links).length > 0 || this.recovering) return;
    this.redisDown = false;
    void this.health.probeNow();
    this.recovering = this.recover(r).finally(() => (this.recovering = null));
  }

  /** Back on Redis: re-assert this node, then reload what it may have missed; retried until done. */
  private async recover(r: RedisParts): Promise<void> {
    for (let attempt = 1; !this.ctx?.closing; attempt++) {
      try {
        await r.liveness?.beat();
        await r.presence?.reconcile();
        await r.codes.load();
        await r.sync.resync();
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'recovering after a Redis outage failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000 * attempt, 5_000)).unref());
      }
    }
  }

  /** After Aedes closed (it closes the MQTT emitter itself). */
  async close(): Promise<void> {
    this.health.stop();
    const r = this.redis;
    if (r) {
      r.sync.stop();
      r.presence?.stop();
      await r.liveness?.stop();
      await r.persistence.destroy().catch((err: unknown) => this.log.debug({ err }, 'closing the Aedes persistence failed'));
      closeLinks(r.links);
    }
    await this.registry.close();
  }
}
