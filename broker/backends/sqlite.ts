// One node alone on an embedded SQLite file (docs/architecture.md, Backends): presence, bindings,
// claim codes and the dispatch lease in memory, no dependency that can be down.
import { join } from 'node:path';
import { BindingMap } from '../binding-map';
import { ClaimCodes } from '../claim-codes';
import { Health } from '../cluster/health';
import type { BrokerOptions } from '../config';
import { LocalLease } from '../jobs/lease';
import type { Logger } from '../logger';
import { LocalPresence, type Presence, type PresenceListener } from '../presence';
import { openSqlite, type Registry } from '../store/db';
import type { Backends } from './backends';

export class SqliteBackends implements Backends {
  readonly mode = 'sqlite';
  readonly nodeId = null;
  readonly sharedRegistry = false;
  readonly bindingsSuspended = false;
  readonly bindings = new BindingMap();
  readonly aclBindings = this.bindings;
  readonly claimCodes = new ClaimCodes();
  readonly lease = new LocalLease();
  /** No probes: nothing shared can be down. */
  readonly health: Health;

  private constructor(
    private readonly opts: BrokerOptions,
    readonly registry: Registry,
    log: Logger,
  ) {
    this.health = new Health(log);
  }

  static async open(opts: BrokerOptions, log: Logger): Promise<SqliteBackends> {
    const file = join(opts.dataDir, 'fleetbind.db');
    // The backstop checkpoint on the main connection still runs; this says the worker stopped.
    const registry = await openSqlite(file, (err) => log.error({ err }, 'checkpointing the registry off the main thread failed'));
    return new SqliteBackends(opts, registry, log);
  }

  presence(listener: PresenceListener): Presence {
    return new LocalPresence(this.opts.graceMs, listener, this.opts.clock);
  }

  aedesOptions(): Record<string, never> {
    return {};
  }

  commandRedis(): null {
    return null;
  }

  async channel(): Promise<null> {
    return null;
  }

  sharedRequestBucket(): null {
    return null;
  }

  sharedLoginWindows(): null {
    return null;
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async kickElsewhere(): Promise<number> {
    return 0;
  }

  async attach(): Promise<void> {}

  close(): Promise<void> {
    return this.registry.close();
  }
}
