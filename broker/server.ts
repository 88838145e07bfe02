// Assembles and runs one broker node: registry, Aedes with auth and ACL, MQTT over TCP (and
// TLS), HTTP(S) with MQTT over WebSocket on /mqtt, presence and the request handlers.
import { once, EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { Aedes, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { parseTopicCached as parseTopic } from './topic-cache';
import type { OfflineReason } from '../protocol/messages';
import { Acl, oversizeRequestId } from './acl';
import { CONNECT_DEADLINE_MS, ConnectionGuard, type GuardedStream } from './connection-guard';
import { WarnLimiter } from './warn-limit';
import { connectionGone, makeAuthenticate, markCloseReason, requestAddress } from './authenticate';
import { IndexedMemoryPersistence } from './upstream/memory-persistence';
import { deviceSecretKey } from './auth/device-key';
import { HashQueue } from './auth/hash-queue';
import { JwtVerifier } from './auth/jwt';
import { PASSWORD_COST, hashSecret, randomToken } from './auth/secrets';
import { BindingMap } from './binding-map';
import { INITIAL_ADMIN_FILE, bootstrap } from './bootstrap';
import { ClaimCodes } from './claim-codes';
import { DEFAULTS, type BrokerOptions } from './config';
import type { Context } from './context';
import type { BrokerEvents, KickTarget } from './events';
import { buildHttp } from './http/app';
import { startJobs } from './jobs/index';
import { startMachines } from './machines/index';
import { startOta } from './ota/index';
import { startPools } from './pools/pools';
import { LocalLease } from './jobs/lease';
import { type Identity, identityOf } from './identity';
import { createLogger } from './logger';
import { Metrics } from './metrics';
import { aedesInternals } from './upstream/aedes';
import { guardRecursion } from './upstream/mq-guard';
import { numberAtEmit } from './upstream/emit-order';
import { ClusterNode } from './cluster/node';
import { systemClock } from './clock';
import { LocalPresence } from './presence';
import { presenceAnnouncer } from './presence-announce';
import { publishStatus, scheduleBindings } from './publisher';
import { LoginThrottle } from './rate-limit';
import { LiveCredentials } from './live-credentials';
import { SessionExpiry } from './session-expiry';
import { handleEnroll, handleHello } from './registry';
import { RequestLimiter } from './request-limit';
import { handleRequest } from './requests';
import { allBindings } from './store/bindings';
import { openSqlite } from './store/db';
import { GroupWriter } from './store/group-writer';
import { POOL_SIZE } from './store/postgres';
import { TxGate } from './store/tx-gate';
import { deviceAgents, listDevices } from './store/devices';
import { Deliverer } from './webhooks/deliverer';
import { existsSync } from 'node:fs';
import { unreachableFromPhone } from '../host-tools/cli/public-url';
import { adminHasLoggedIn } from './store/audit';
import { checkDataDir, listenError, readTlsFiles } from './start-errors';
import { openBlobStore } from './blobs/open';
import { BlobUrls } from './blobs/signed-url';
import { Orders } from './orders/service';
import { orderOwner } from './orders/sessions';
import { publishOrderUpdates } from './orders/updates';

export interface RunningBroker {
  mqttPort: number;
  httpPort: number;
  mqttsPort: number | null;
  mqttUrl: string;
  wsUrl: string;
  httpUrl: string;
  firstAdmin: { username: string; password: string; file: string } | null;
  /** Until the first admin login: the file holding the first-run admin credential, if it is still there. */
  initialAdminFile: string | null;
  /** Why a phone cannot open the public URL printed on labels, or null when it can. */
  publicUrlProblem: string | null;
  /** For the broker's own tests and benchmarks; nothing else may reach inside. */
  ctx: Context;
  close(): Promise<void>;
}

/**
 * Node's default backlog of 511 overflows when a few thousand devices reconnect at once, and an
 * overflowed SYN costs the device a one-second retransmit. The kernel caps it at somaxconn.
 */
const LISTEN_BACKLOG = 8192;
// A burst of claims on PostgreSQL gets under half of the node's pool; the rest stays free for the
// other work a claim sets off (binding sync, job queues, config) and for the health probe.
const CLAIM_TRANSACTIONS = Math.floor(POOL_SIZE / 2) - 1;

function listen(server: Server, port: number, host: string, what: string, flag: string): Promise<number> {
  server.listen({ port, host, backlog: LISTEN_BACKLOG });
  // once() rejects with the 'error' event while it waits for 'listening'.
  return once(server, 'listening').then(
    () => (server.address() as AddressInfo).port,
    (err: unknown) => {
      throw listenError(what, flag, host, port, err);
    },
  );
}

function routeMessage(ctx: Context, client: Client, who: Identity, topic: string, payload: Buffer): Promise<void> | void {
  const t = parseTopic(topic);
  if (!t) return;
  switch (who.kind) {
    case 'device':
      if (t.kind !== 'device') return;
      if (t.leaf === 'hello') return handleHello(ctx, who.id, payload).then(() => void ctx.events.emit('hello', who.id));
      if (t.leaf === 'ack') return void ctx.events.emit('ack', who.id, payload);
      if (t.leaf === 'evt') return void ctx.events.emit('evt', who.id, t.stream ?? '', payload);
      if (t.leaf === 'state') return ctx.machines.shadows.report(who.id, payload);
      return;
    case 'enroll':
      return handleEnroll(ctx, who, payload, () => !connectionGone(client));
    case 'agent':
    case 'admin':
      return handleRequest(ctx, who, payload, client, oversizeRequestId(payload));
  }
}

export async function startBroker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const opts: BrokerOptions = { ...DEFAULTS, ...options };
  const log = createLogger(opts.logLevel);
  // Files first: a mistake in them is reported before anything is created or listens.
  checkDataDir(opts.dataDir);
  const tls = opts.tlsCert && opts.tlsKey ? readTlsFiles(opts.tlsCert, opts.tlsKey) : null;
  // PostgreSQL (and, with Redis, a cluster) when configured; otherwise the embedded SQLite file.
  const cluster = opts.databaseUrl === undefined ? null : await ClusterNode.open(opts, log);
  const registry = cluster?.registry ?? (await openSqlite(join(opts.dataDir, 'fleetbind.db')));
  const boot = await (cluster ? cluster.exclusive(() => bootstrap(registry.db, opts.dataDir, Date.now())) : bootstrap(registry.db, opts.dataDir, Date.now()));
  // As many hashes in flight as libuv has threads: more would only queue where they cannot be dropped.
  const hashes = new HashQueue(Number(process.env.UV_THREADPOOL_SIZE ?? 4));
  const metrics = new Metrics(hashes, registry.statements);
  const bindings = cluster?.bindings ?? new BindingMap();
  for (const b of await allBindings(registry.db)) bindings.apply(b.id, b.agent_id, Number(b.binding_version));

  const ctx = {
    opts,
    db: registry.db,
    writer: new GroupWriter(registry.db),
    claimGate: new TxGate(CLAIM_TRANSACTIONS),
    log,
    metrics,
    bindings,
    claimCodes: cluster?.claimCodes ?? new ClaimCodes(),
    cluster,
    lease: cluster?.lease ?? new LocalLease(),
    throttle: new LoginThrottle(cluster?.sharedLoginWindows() ?? null, log),
    requestLimits: new RequestLimiter(opts, cluster?.sharedRequestBucket() ?? null, log),
    credentials: new LiveCredentials(),
    events: new EventEmitter<BrokerEvents>(),
    labelKey: boot.labelKey,
    blobs: await openBlobStore(registry, opts.dataDir, log),
    blobUrls: new BlobUrls(boot.labelKey),
    blobBaseUrl: opts.publicUrl,
    hashes,
    jwt: opts.jwt ? await JwtVerifier.create(opts.jwt) : null,
    deviceKey: await deviceSecretKey(registry.db, opts.dataDir, cluster !== null),
    bindingTimers: new Map<string, NodeJS.Timeout>(),
    dummyHash: await hashSecret(randomToken(), PASSWORD_COST),
    closing: false,
    now: (opts.clock ?? systemClock).now,
  } as Omit<Context, 'aedes' | 'presence' | 'kick'> as Context;

  const announce = presenceAnnouncer(ctx);
  ctx.presence = cluster?.presence(announce) ?? new LocalPresence(opts.graceMs, announce, opts.clock);
  metrics.watchFleet(async () => {
    const rows = await deviceAgents(registry.db);
    const byPresence: Record<string, number> = {};
    for (const r of rows) {
      const state = ctx.presence.status(r.id).state;
      byPresence[state] = (byPresence[state] ?? 0) + 1;
    }
    return { byPresence, registered: rows.length, bound: rows.filter((r) => r.agent_id !== null).length };
  });
  const acl = new Acl(cluster?.aclBindings ?? bindings, ctx.presence, metrics, log.child({ part: 'acl' }), (order) => orderOwner(registry.db, order));

  const aedes = await Aedes.createBroker({
    connectTimeout: CONNECT_DEADLINE_MS,
    persistence: new IndexedMemoryPersistence(),
    ...cluster?.aedesOptions(),
    authenticate: makeAuthenticate(ctx),
    authorizePublish: acl.authorizePublish,
    authorizeSubscribe: acl.authorizeSubscribe,
    authorizeForward: acl.authorizeForward,
    published(packet, client, done) {
      done();
      const who = identityOf(client);
      if (!who || ctx.closing) return;
      const pending = routeMessage(ctx, client, who, packet.topic, packet.payload as Buffer);
      pending?.catch((err: unknown) => log.error({ err, topic: packet.topic }, 'handling a message failed'));
    },
  });
  // Before any traffic: a connect burst must not overflow the stack draining the message queue.
  const internals = aedesInternals(aedes);
  guardRecursion(internals.mq);
  numberAtEmit(aedes);
  ctx.aedes = aedes;
  const kickHere = (target: KickTarget, reason: OfflineReason): number => {
    let n = 0;
    if (target.kind === 'credential') {
      for (const client of ctx.credentials.revoke(target.id)) {
        markCloseReason(client, reason);
        client.close();
        n++;
      }
      return n;
    }
    for (const client of internals.clients()) {
      const who = identityOf(client);
      if (who && who.kind === target.kind && who.id === target.id) {
        markCloseReason(client, reason);
        client.close();
        n++;
      }
    }
    return n;
  };
  ctx.kick = async (target, reason) => kickHere(target, reason) + (cluster ? await cluster.kickElsewhere(target, reason) : 0);
  // Every node ends its own connections whose session expired: the expiry is in the shared store.
  const expiry = new SessionExpiry(ctx, (key) => kickHere({ kind: 'credential', id: key }, 'kicked'));

  const guardWarnings = new WarnLimiter();
  const guard = new ConnectionGuard(opts.preAuthPerAddress, {
    oversize(address, announced, authenticated) {
      metrics.guardRefusals.inc({ reason: authenticated ? 'oversize' : 'oversize-before-connack' });
      if (guardWarnings.take(address, ctx.now())) log.warn({ ip: address, announced, authenticated }, 'connection closed: packet over the size limit');
    },
    overCap(address) {
      metrics.guardRefusals.inc({ reason: 'unauthenticated-per-address' });
      if (guardWarnings.take(address, ctx.now())) log.warn({ ip: address }, 'connection refused: too many unauthenticated connections from this address');
    },
  });
  aedes.on('client', (client) => {
    (client.conn as Partial<GuardedStream>).authenticated?.();
    const who = identityOf(client);
    if (who?.kind === 'device') ctx.presence.registered(who.id, who.conn);
    if (who?.kind === 'agent') scheduleBindings(ctx, who.id, 0);
    if (who?.kind === 'agent' || who?.kind === 'admin') expiry.track(who.credential, who.expiresAt);
  });
  await cluster?.attach(ctx, kickHere);
  const jobs = await startJobs(ctx);
  const machines = await startMachines(ctx);
  ctx.orders = new Orders(ctx);
  const stopOrderUpdates = publishOrderUpdates(ctx, ctx.orders);
  const ota = startOta(ctx);
  const pools = await startPools(ctx);
  const deliverer = new Deliverer(ctx, registry.dialect, opts.webhooks);
  await deliverer.start();

  aedes.on('keepaliveTimeout', (client) => markCloseReason(client, 'keepalive'));
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'connection error'));

  const devices = await listDevices(registry.db);
  await ctx.presence.afterRestart(
    devices.filter((d) => d.last_seen !== null).map((d) => d.id),
    devices.filter((d) => d.last_seen === null).map((d) => d.id),
  );

  // MQTT is request/response in small packets: with Nagle on, a reply written behind an unacked
  // one waits for the peer's delayed ACK (about 40 ms), on every hop of a job.
  const tcp = createServer({ noDelay: true }, (socket) => {
    const guarded = guard.wrap(socket, socket.remoteAddress ?? 'unknown');
    if (guarded) aedes.handle(guarded);
  });
  const mqttPort = await listen(tcp, opts.mqttPort, opts.host, 'MQTT', '--mqtt-port');
  let tlsServer: Server | null = null;
  let mqttsPort: number | null = null;
  if (tls) {
    tlsServer = createTlsServer(tls, (socket) => {
      const guarded = guard.wrap(socket.setNoDelay(true), socket.remoteAddress ?? 'unknown');
      if (guarded) aedes.handle(guarded);
    });
    mqttsPort = await listen(tlsServer, opts.mqttsPort, opts.host, 'MQTTS', '--mqtts-port');
  }

  const startedAt = Date.now();
  const http = await buildHttp(ctx, startedAt);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  http.server.on('upgrade', (req, socket, head) => {
    if (req.url?.split('?')[0] !== '/mqtt') {
      socket.destroy();
      return;
    }
    (socket as Socket).setNoDelay(true);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const guarded = guard.wrap(createWebSocketStream(ws), requestAddress(req, opts.trustProxy));
      if (guarded) aedes.handle(guarded, req);
    });
  });
  try {
    await http.listen({ port: opts.httpPort, host: opts.host, backlog: LISTEN_BACKLOG });
  } catch (err) {
    throw listenError('HTTP', '--http-port', opts.host, opts.httpPort, err);
  }
  const httpPort = (http.server.address() as AddressInfo).port;
  const scheme = tlsServer ? 'https' : 'http';
  const local = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  // Devices fetch designs from the public URL when one was given, else from where this node listens.
  ctx.blobBaseUrl = (options.publicUrl ?? `${scheme}://${local}:${httpPort}`).replace(/\/+$/, '');

  log.info({ mqttPort, httpPort, mqttsPort, dataDir: opts.dataDir, devices: devices.length }, 'listening');
  const publicUrlProblem = unreachableFromPhone(opts.publicUrl);
  if (publicUrlProblem) log.warn({ publicUrl: opts.publicUrl }, `labels and claim links point at ${opts.publicUrl}, which a phone cannot open (${publicUrlProblem}); set --public-url`);
  const adminFile = join(opts.dataDir, INITIAL_ADMIN_FILE);
  const initialAdminFile = !(await adminHasLoggedIn(registry.db)) && existsSync(adminFile) ? adminFile : null;

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      // The drain (docs/architecture.md, Shutdown and overload): accept nothing new, tell every
      // agent its devices here are restarting while it can still hear it, let work in flight
      // reach the registry, then close.
      const started = ctx.now();
      tcp.close();
      tlsServer?.close();
      ctx.closing = true;
      expiry.stop();
      stopOrderUpdates();
      await ota.stop();
      await pools.stop();
      const restarting = [...internals.clients()].map(identityOf).filter((w) => w?.kind === 'device');
      await Promise.all(
        restarting.map((w) => publishStatus(ctx, w!.id, { state: 'reconnecting', conn: w!.conn, since: started, reason: 'broker-restart' }).catch((err: unknown) => log.error({ err, device: w!.id }, 'publishing broker-restart presence failed'))),
      );
      await jobs.stop();
      machines.stop();
      await deliverer.stop();
      for (const t of ctx.bindingTimers.values()) clearTimeout(t);
      ctx.presence.stop();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const ws of wss.clients) ws.terminate();
      await http.close();
      // Requests that were under way when their connections closed still commit (or fail) before the registry closes.
      await ctx.writer.idle();
      await (cluster ?? registry).close();
      log.info({ devices: restarting.length, ms: ctx.now() - started }, 'stopped');
    })());

  return {
    mqttPort,
    httpPort,
    mqttsPort,
    mqttUrl: `mqtt://${local}:${mqttPort}`,
    wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://${local}:${httpPort}/mqtt`,
    httpUrl: `${scheme}://${local}:${httpPort}`,
    firstAdmin: boot.firstAdmin,
    initialAdminFile,
    publicUrlProblem,
    ctx,
    close,
  };
}
