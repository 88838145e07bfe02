// Phase 1 of a node (docs/architecture.md, How a node starts): check the files it was given, open
// the registry (PostgreSQL, with Redis a cluster, when configured; the embedded SQLite file
// otherwise), bootstrap it, and build the node's own services. Nothing listens or connects yet.
import { EventEmitter } from 'node:events';
import { deviceSecretKey } from '../auth/device-key';
import { HashQueue } from '../auth/hash-queue';
import { JwtVerifier } from '../auth/jwt';
import { PASSWORD_COST, hashSecret, randomToken } from '../auth/secrets';
import { type Bootstrap, bootstrap } from '../bootstrap';
import { openBlobStore } from '../blobs/open';
import { BlobUrls } from '../blobs/signed-url';
import { systemClock } from '../clock';
import type { Backends } from '../backends/backends';
import { ClusterBackends } from '../backends/cluster';
import { PostgresBackends } from '../backends/postgres';
import { SqliteBackends } from '../backends/sqlite';
import type { BrokerOptions } from '../config';
import type { CoreContext } from '../context';
import type { BrokerEvents } from '../events';
import { LiveCredentials } from '../live-credentials';
import type { Logger } from '../logger';
import { Metrics } from '../metrics';
import { LoginThrottle } from '../rate-limit';
import { RequestLimiter } from '../request-limit';
import { checkDataDir, readTlsFiles } from '../start-errors';
import { allBindings } from '../store/bindings';
import type { Registry } from '../store/db';
import { GroupWriter } from '../store/group-writer';
import { POOL_SIZE } from '../store/postgres';
import { TxGate } from '../store/tx-gate';

// A burst of claims on PostgreSQL gets under half of the node's pool; the rest stays free for the
// other work a claim sets off (binding sync, job queues, config) and for the health probe.
const CLAIM_TRANSACTIONS = Math.floor(POOL_SIZE / 2) - 1;

export interface NodeServices {
  core: CoreContext;
  registry: Registry;
  backends: Backends;
  boot: Bootstrap;
  tls: { cert: Buffer; key: Buffer } | null;
}

export async function openNodeServices(opts: BrokerOptions, log: Logger): Promise<NodeServices> {
  // Files first: a mistake in them is reported before anything is created or listens.
  checkDataDir(opts.dataDir);
  const tls = opts.tlsCert && opts.tlsKey ? readTlsFiles(opts.tlsCert, opts.tlsKey) : null;
  const backends = await openBackends(opts, log);
  const registry = backends.registry;
  const boot = await backends.exclusive(() => bootstrap(registry.db, opts.dataDir, Date.now()));
  // As many hashes in flight as libuv has threads: more would only queue where they cannot be dropped.
  const hashes = new HashQueue(Number(process.env.UV_THREADPOOL_SIZE ?? 4));
  const bindings = backends.bindings;
  for (const b of await allBindings(registry.db)) bindings.apply(b.id, b.agent_id, Number(b.binding_version));

  const core: CoreContext = {
    opts,
    db: registry.db,
    writer: new GroupWriter(registry.db),
    claimGate: new TxGate(CLAIM_TRANSACTIONS),
    log,
    metrics: new Metrics(hashes, registry.statements),
    bindings,
    claimCodes: backends.claimCodes,
    backends,
    lease: backends.lease,
    throttle: new LoginThrottle(backends.sharedLoginWindows(), log),
    requestLimits: new RequestLimiter(opts, backends.sharedRequestBucket(), log),
    credentials: new LiveCredentials(),
    events: new EventEmitter<BrokerEvents>(),
    labelKey: boot.labelKey,
    blobs: await openBlobStore(registry, opts.dataDir, log),
    blobUrls: new BlobUrls(boot.labelKey),
    // Replaced by where the node listens once it does, unless a public URL was given.
    blobBaseUrl: opts.publicUrl,
    hashes,
    jwt: opts.jwt ? await JwtVerifier.create(opts.jwt) : null,
    deviceKey: await deviceSecretKey(registry.db, opts.dataDir, backends.sharedRegistry),
    bindingTimers: new Map<string, NodeJS.Timeout>(),
    dummyHash: await hashSecret(randomToken(), PASSWORD_COST),
    closing: false,
    now: (opts.clock ?? systemClock).now,
  };
  return { core, registry, backends, boot, tls };
}

/** The mode is chosen here, once: no database URL is SQLite; with one, PostgreSQL; with Redis too, a cluster. */
function openBackends(opts: BrokerOptions, log: Logger): Promise<Backends> {
  if (opts.databaseUrl === undefined) return SqliteBackends.open(opts, log);
  if (opts.redisUrl === undefined) return PostgresBackends.open(opts, log);
  return ClusterBackends.open(opts, log);
}
