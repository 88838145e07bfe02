// Nodes sharing PostgreSQL and Redis (docs/architecture.md, Backends): MQTT traffic, retained
// messages, presence, binding changes, claim codes, the dispatch lease and node-to-node calls go
// through Redis; the registry and its health are PostgreSQL's, as for one node on it.
import type { Kysely } from 'kysely';
import type { BindingMap } from '../binding-map';
import type { ClaimCodes } from '../claim-codes';
import type { Health } from '../cluster/health';
import type { BrokerOptions } from '../config';
import type { KickTarget } from '../events';
import type { OfflineReason } from '../../protocol/messages';
import type { JobRpc } from '../jobs/job-rpc';
import type { DispatchLease } from '../jobs/lease';
import type { Logger } from '../logger';
import type { Presence, PresenceListener } from '../presence';
import type { AttachedBroker, BackendMode } from './backends';
import { PostgresBackends, type SharedRegistry, openSharedRegistry } from './postgres';
import type { Database } from '../store/schema';
import { BindingSync, SyncedBindingMap } from '../cluster/bindings';
import { ClaimCodeSync } from '../cluster/claim-codes';
import { type ClusterMq, createMq, listen, send } from '../cluster/mq';
import { type AedesPersistence, createPersistence } from '../cluster/persistence';
import { NodeLiveness } from '../cluster/nodes';
import { ClusterPresence } from '../cluster/presence';
import { ClusterLease } from '../cluster/lease';
import { NodeRpc } from '../cluster/rpc';
import { type ScriptedRedis, keys, withScripts } from '../cluster/scripts';
import { RedisLoginWindows } from '../cluster/login-windows';
import { type LinkName, type RedisLinks, closeLinks, connectRedis, linksDown, openLinks } from '../cluster/redis';

export const REDIS_CHECK = 'redis';

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
  const redis = withScripts(links.command);
  let mq: ClusterMq;
  try {
    mq = await createMq({ links, redis, prefix: opts.redisPrefix, node, onError, log });
  } catch (err) {
    closeLinks(links);
    throw err;
  }
  const map = new SyncedBindingMap();
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

export class ClusterBackends extends PostgresBackends {
  override readonly mode: BackendMode = 'cluster';
  override readonly bindings: BindingMap;
  override readonly claimCodes: ClaimCodes;
  /** The binding map as the per-message ACL reads it (see SyncedBindingMap.forAcl). */
  override readonly aclBindings: Pick<BindingMap, 'agentOf'>;
  override readonly lease: DispatchLease;
  private redisDown = false;
  private recovering: Promise<void> | null = null;

  private constructor(
    shared: SharedRegistry,
    opts: BrokerOptions,
    private readonly redis: RedisParts,
  ) {
    super(shared, opts);
    this.bindings = redis.map;
    this.aclBindings = redis.map.forAcl;
    this.claimCodes = redis.codes.codes;
    this.lease = redis.lease;
  }

  static override async open(opts: BrokerOptions, baseLog: Logger): Promise<ClusterBackends> {
    const url = opts.redisUrl;
    if (url === undefined) throw new Error('a cluster node needs --redis-url');
    const shared = await openSharedRegistry(opts, baseLog);
    let parts: RedisParts;
    try {
      parts = await openRedis(opts, url, shared.id, shared.registry.db, shared.health, shared.log);
    } catch (err) {
      await shared.registry.close();
      throw err;
    }
    const links = parts.links;
    shared.health.addProbe(REDIS_CHECK, async () => {
      const down = linksDown(links);
      if (down.length > 0) throw new Error(`connection${down.length > 1 ? 's' : ''} ${down.join(', ')} not ready`);
      await links.command.ping();
    });
    return new ClusterBackends(shared, opts, parts);
  }

  override get bindingsSuspended(): boolean {
    return this.redis.map.suspended;
  }

  override aedesOptions(): { id?: string; mq?: unknown; persistence?: unknown } {
    return { id: this.nodeId, mq: this.redis.mq, persistence: this.redis.persistence };
  }

  override commandRedis(): ScriptedRedis {
    return this.redis.redis;
  }

  /**
   * It shares the Redis connection with MQTT traffic, so a message sent before a publish is handled
   * on every node before that publish is delivered.
   */
  override async channel<T>(topic: string, what: string, onMessage: (msg: T) => void): Promise<(msg: T) => void> {
    const parts = this.redis;
    await listen<{ n: string; m: T }>(parts.mq, topic, this.log, what, (w) => {
      if (w.n !== this.nodeId) onMessage(w.m);
    });
    return (m) => send(parts.mq, topic, { n: this.nodeId, m }, this.log, what);
  }

  /** Request buckets shared by every node (docs/architecture.md, Request rate limits). */
  override sharedRequestBucket(): (agent: string, rate: number, burst: number) => Promise<number> {
    const parts = this.redis;
    return async (agent, rate, burst) => Number(await parts.redis.fbTakeToken(keys.requestBucket(agent), String(rate), String(burst)));
  }

  /** Failed-login windows shared by every node (docs/architecture.md, Identities: lockouts). */
  override sharedLoginWindows(): RedisLoginWindows {
    return new RedisLoginWindows(this.redis.redis, this.opts.redisPrefix);
  }

  override presence(listener: PresenceListener): Presence {
    const p = new ClusterPresence({
      redis: this.redis.redis,
      mq: this.redis.mq,
      node: this.nodeId,
      graceMs: this.opts.graceMs,
      listener,
      log: this.log,
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
    });
    this.redis.presence = p;
    return p;
  }

  override async kickElsewhere(target: KickTarget, reason: OfflineReason): Promise<number> {
    const r = this.redis;
    const others = (await r.redis.hkeys(keys.nodes)).filter((n) => n !== this.nodeId);
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

  override async attach(broker: AttachedBroker, kickHere: (target: KickTarget, reason: OfflineReason) => number): Promise<void> {
    await super.attach(broker, kickHere);
    const r = this.redis;
    await r.sync.start(broker.events);
    await r.codes.start();
    r.rpc.handle('kick', async (target, reason) => kickHere(target, reason));
    await r.rpc.start();
    if (r.presence) {
      await r.presence.start();
      const presence = r.presence;
      r.liveness = new NodeLiveness(r.redis, this.nodeId, this.log, async (node) => {
        await presence.settleNode(node);
        await r.lease.settleNode(node);
        await r.mq.forgetNode(node);
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
    if (this.redisDown || this.broker?.closing) return;
    this.redisDown = true;
    this.health.set(REDIS_CHECK, false, `connection ${name} lost`);
    this.redis.sync.suspend();
  }

  private linkUp(): void {
    const r = this.redis;
    if (!this.redisDown || linksDown(r.links).length > 0 || this.recovering) return;
    this.redisDown = false;
    void this.health.probeNow();
    this.recovering = this.recover(r).finally(() => (this.recovering = null));
  }

  /** Back on Redis: re-assert this node, then reload what it may have missed; retried until done. */
  private async recover(r: RedisParts): Promise<void> {
    for (let attempt = 1; !this.broker?.closing; attempt++) {
      try {
        await r.liveness?.beat();
        await r.mq.resync();
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
  override async close(): Promise<void> {
    this.health.stop();
    const r = this.redis;
    r.sync.stop();
    r.presence?.stop();
    await r.liveness?.stop();
    await r.persistence.destroy().catch((err: unknown) => this.log.debug({ err }, 'closing the Aedes persistence failed'));
    closeLinks(r.links);
    await this.registry.close();
  }
}
