// One node on PostgreSQL (docs/architecture.md, Backends): the registry is shared with whoever
// else uses the database, its health is probed every second, and while it is down the node
// refuses changes. Presence, bindings, claim codes and the dispatch lease stay in this node.
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { OfflineReason } from '../../protocol/messages';
import { BindingMap } from '../binding-map';
import { ClaimCodes } from '../claim-codes';
import { Health } from '../cluster/health';
import type { RedisLoginWindows } from '../cluster/login-windows';
import type { ScriptedRedis } from '../cluster/scripts';
import type { BrokerOptions } from '../config';
import type { KickTarget } from '../events';
import { type DispatchLease, LocalLease } from '../jobs/lease';
import type { Logger } from '../logger';
import { LocalPresence, type Presence, type PresenceListener } from '../presence';
import type { Registry } from '../store/db';
import { openPostgres, redactUrl } from '../store/postgres';
import type { AttachedBroker, BackendMode, Backends } from './backends';

export const POSTGRES_CHECK = 'postgres';
/** Serialises first-run bootstrap (label key, first admin) between nodes starting together. */
const STARTUP_LOCK = 0x66626e64;

/** What every node on PostgreSQL has: its id, its log, the registry and the probe watching it. */
export interface SharedRegistry {
  id: string;
  log: Logger;
  health: Health;
  registry: Registry;
}

export async function openSharedRegistry(opts: BrokerOptions, baseLog: Logger): Promise<SharedRegistry> {
  const url = opts.databaseUrl;
  if (url === undefined) throw new Error('a node on PostgreSQL needs --database-url');
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
  log.info(
    { database: redactUrl(url), redis: opts.redisUrl === undefined ? null : redactUrl(opts.redisUrl), prefix: opts.redisPrefix },
    opts.redisUrl === undefined ? 'single node on PostgreSQL' : 'cluster node',
  );
  return { id, log, health, registry };
}

export class PostgresBackends implements Backends {
  readonly mode: BackendMode = 'postgres';
  readonly sharedRegistry = true;
  readonly nodeId: string;
  readonly registry: Registry;
  readonly health: Health;
  readonly bindings: BindingMap = new BindingMap();
  readonly aclBindings: Pick<BindingMap, 'agentOf'> = this.bindings;
  readonly claimCodes: ClaimCodes = new ClaimCodes();
  readonly lease: DispatchLease = new LocalLease();
  protected readonly log: Logger;
  protected broker: AttachedBroker | null = null;

  constructor(
    shared: SharedRegistry,
    protected readonly opts: BrokerOptions,
  ) {
    this.nodeId = shared.id;
    this.registry = shared.registry;
    this.health = shared.health;
    this.log = shared.log;
  }

  static async open(opts: BrokerOptions, log: Logger): Promise<PostgresBackends> {
    return new PostgresBackends(await openSharedRegistry(opts, log), opts);
  }

  get bindingsSuspended(): boolean {
    return false;
  }

  presence(listener: PresenceListener): Presence {
    return new LocalPresence(this.opts.graceMs, listener, this.opts.clock);
  }

  aedesOptions(): { id?: string; mq?: unknown; persistence?: unknown } {
    return {};
  }

  commandRedis(): ScriptedRedis | null {
    return null;
  }

  async channel<T>(_topic: string, _what: string, _onMessage: (msg: T) => void): Promise<((msg: T) => void) | null> {
    return null;
  }

  sharedRequestBucket(): ((agent: string, rate: number, burst: number) => Promise<number>) | null {
    return null;
  }

  sharedLoginWindows(): RedisLoginWindows | null {
    return null;
  }

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

  async kickElsewhere(_target: KickTarget, _reason: OfflineReason): Promise<number> {
    return 0;
  }

  async attach(broker: AttachedBroker, _kickHere: (target: KickTarget, reason: OfflineReason) => number): Promise<void> {
    this.broker = broker;
    this.health.start();
    // Connection errors of the shared backends reach Aedes too (a publish whose connection
    // broke); without a listener the emitter would throw them.
    (broker.aedes as unknown as EventEmitter).on('error', (err: Error) => this.log.warn({ err: err.message }, 'Aedes reported an error'));
  }

  async close(): Promise<void> {
    this.health.stop();
    await this.registry.close();
  }
}
