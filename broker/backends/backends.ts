// What a node needs from the mode it runs in (docs/architecture.md, Backends): one interface,
// three implementations chosen once at start: SqliteBackends (one node, embedded file),
// PostgresBackends (one node on PostgreSQL) and ClusterBackends (nodes sharing PostgreSQL and
// Redis). Nothing else in the broker asks which mode it is in, except through what this names.
import type { Aedes } from 'aedes';
import type { EventEmitter } from 'node:events';
import type { OfflineReason } from '../../protocol/messages';
import type { BindingMap } from '../binding-map';
import type { ClaimCodes } from '../claim-codes';
import type { Health } from '../cluster/health';
import type { RedisLoginWindows } from '../cluster/login-windows';
import type { ScriptedRedis } from '../cluster/scripts';
import type { BrokerEvents, KickTarget } from '../events';
import type { DispatchLease } from '../jobs/lease';
import type { Presence, PresenceListener } from '../presence';
import type { Registry } from '../store/db';

export type BackendMode = 'sqlite' | 'postgres' | 'cluster';

/**
 * What the backends read of the broker once MQTT exists: the node's context itself, named by the
 * slice used, since the context names the backends among its services.
 */
export interface AttachedBroker {
  aedes: Aedes;
  events: EventEmitter<BrokerEvents>;
  readonly closing: boolean;
}

export interface Backends {
  readonly mode: BackendMode;
  /** This node's id among the nodes that share the registry; null on SQLite, where it is alone. */
  readonly nodeId: string | null;
  /**
   * Other nodes write the same registry: rows this node keeps in memory may be stale, so a cache
   * of them must be read again, and claims run in the database's own transactions.
   */
  readonly sharedRegistry: boolean;
  readonly registry: Registry;
  /**
   * The shared dependencies' health, always there: with no shared dependency (SQLite) it is always
   * healthy. `health.assertAvailable(action)` is the one guard in front of every change.
   */
  readonly health: Health;
  readonly bindings: BindingMap;
  /** The binding map as the per-message ACL reads it. */
  readonly aclBindings: Pick<BindingMap, 'agentOf'>;
  readonly claimCodes: ClaimCodes;
  /** Which node dispatches each device's jobs (always this one unless nodes share Redis). */
  readonly lease: DispatchLease;
  /** The binding map may be missing changes (Redis was unreachable): the ACL holds device traffic back. */
  readonly bindingsSuspended: boolean;
  presence(listener: PresenceListener): Presence;
  /** Aedes options that put message routing and persistence where the mode keeps them. */
  aedesOptions(): { id?: string; mq?: unknown; persistence?: unknown };
  /** A Redis command connection shared by the nodes (keys under the fleet's prefix), or null without one. */
  commandRedis(): ScriptedRedis | null;
  /**
   * A channel between the nodes on `topic`, for caches that must follow changes made elsewhere:
   * resolves, once listening, with the sender (this node's own messages never come back), or null
   * when no other node can make such changes.
   */
  channel<T>(topic: string, what: string, onMessage: (msg: T) => void): Promise<((msg: T) => void) | null>;
  /** Takes a token from an agent's request bucket shared by every node; null when there is none. Resolves 0, or the wait in ms. */
  sharedRequestBucket(): ((agent: string, rate: number, burst: number) => Promise<number>) | null;
  /** Failed-login windows shared by every node; null when there are none. */
  sharedLoginWindows(): RedisLoginWindows | null;
  /** Runs fn while no other node runs its own startup section. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Closes the target's connections on the other live nodes; resolves with how many they closed. */
  kickElsewhere(target: KickTarget, reason: OfflineReason): Promise<number>;
  attach(broker: AttachedBroker, kickHere: (target: KickTarget, reason: OfflineReason) => number): Promise<void>;
  /** After Aedes closed. */
  close(): Promise<void>;
}
