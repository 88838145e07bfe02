// Broker options from CLI flags and FLEETBIND_* environment variables (flags win).
import { resolve } from 'node:path';
import { defineCli, parseCli } from '../host-tools/cli/args';
import { PAYMENT_TEMPLATES, type PaymentTemplate, isPaymentTemplate } from '../protocol/payment/templates';
import type { JwtOptions } from './auth/jwt';
import type { Clock } from './clock';
import { MACHINE_DEFAULTS, type MachineOptions } from './machines/options';
import { ORDER_DEFAULTS, type OrderOptions } from './orders/options';

export interface WebhookOptions {
  allowPrivate: boolean;
  /** First retry delay; each further one doubles, up to an hour, with jitter. */
  backoffMs: number;
  retryForMs: number;
  disableAfterMs: number;
  timeoutMs: number;
}

export interface BrokerOptions {
  dataDir: string;
  host: string;
  mqttPort: number;
  httpPort: number;
  mqttsPort: number;
  tlsCert?: string;
  tlsKey?: string;
  /** Accepted as an admin bearer token and admin MQTT password, for automation. */
  adminToken?: string;
  graceMs: number;
  sessionIdleMs: number;
  deviceLimit: number;
  /** Base URL printed into machine labels. */
  publicUrl: string;
  fleetName: string;
  /** Don't print the first-run admin credential banner (tests capture it from the file). */
  quiet: boolean;
  logLevel: string;
  /** Behind a reverse proxy: take client addresses from X-Forwarded-For, which anyone else could forge. */
  trustProxy: boolean;
  /** Connections per source address that have not finished CONNECT yet; more are closed at once. */
  preAuthPerAddress: number;
  /** CONNECTs being authenticated at once; more are answered CONNACK 3 (server unavailable) at once. */
  maxPendingAuth: number;
  /** Once the oldest CONNECT still being authenticated has waited this long, new ones are answered CONNACK 3 at once. */
  maxAuthWaitMs: number;
  /** Compact the heap once a burst of this many connects has ended (heap-compaction.ts); 0 never. */
  stormCompaction: number;
  /** Agent requests per second, sustained, on one connection (docs/architecture.md, Request rate limits). */
  requestRate: number;
  /** Agent requests one connection may send at once before the sustained rate applies. */
  requestBurst: number;
  /** Agent requests per second, sustained, over all of one agent's connections on every node. */
  agentRequestRate: number;
  /** Agent requests one agent may send at once over all its connections. */
  agentRequestBurst: number;
  /** Most unfinished jobs one device's queue holds; a submit over it is refused with QUEUE_FULL. */
  queueCap: number;
  /** How long to wait for a device's `accepted` before resending a cmd; doubles with each resend. */
  jobAckTimeoutMs: number;
  /** cmd sends before a job fails with NO_ACK (also bounds cancel and completion resends). */
  jobAttempts: number;
  /** How long a job may wait in its queue when the submit names no ttl. */
  jobTtlMs: number;
  /** How often queued jobs are checked against their TTL. */
  jobSweepMs: number;
  /** How long a pool lease outlives its job, so the same agent's next job goes to the same device (docs/architecture.md, Locations and pools). */
  leaseLingerMs: number;
  /** At most one `pool.queue` message per agent and location in this long (docs/architecture.md, Locations and pools). */
  poolQueueEveryMs: number;
  /** A hybrid submit goes to the agent's primary device while it is online and has fewer unfinished jobs than this. */
  primaryBusyAt: number;
  /** PostgreSQL registry (postgres://…) instead of the embedded SQLite file; required for a cluster. */
  databaseUrl?: string;
  /** A backup to restore before starting (main.ts); the data dir or database must be empty. */
  restore?: string;
  /** Redis (redis://…) that joins this node to a cluster: MQTT routing, retained messages, presence. */
  redisUrl?: string;
  /** The broker's clock (broker/clock.ts); not a flag: a test passes one it moves on itself. */
  clock?: Clock;
  /** Namespace of every Redis key and channel, so several fleets can share one Redis. */
  redisPrefix: string;
  /** Agents log in with tokens from the operator's identity provider; undefined when off. */
  jwt?: JwtOptions;
  webhooks: WebhookOptions;
  machines: MachineOptions;
  /** A real fleet (--production, FLEETBIND_PRODUCTION or NODE_ENV=production): placeholder payment QRs are refused. */
  production: boolean;
  /** The fleet's payment payload format for qr.show jobs with an amount that name none themselves. */
  paymentTemplate?: PaymentTemplate;
  /** Claims need proof of presence: a signed label or the device's on-screen claim code, never a typed machine code or device id. */
  requireSignedLabel: boolean;
  /** Walk-up orders: upload limits, customer sessions, rate limits. */
  orders: OrderOptions;
  /** Release public keys (base64 of 32 bytes) a firmware release must be signed by (docs/architecture.md, Over-the-air updates). */
  releasePublicKeys: string[];
  /** How often the node driving a rollout looks at it: sends, resends, soak and wave ends. */
  otaTickMs: number;
  /** How long a device may take to accept an `ota` cmd before it is sent again. */
  otaAckTimeoutMs: number;
  /** How long the signed image URL in an `ota` cmd stays valid. */
  otaUrlTtlMs: number;
}

export const DEFAULTS: BrokerOptions = {
  dataDir: './data',
  host: '0.0.0.0',
  mqttPort: 1883,
  httpPort: 8080,
  mqttsPort: 8883,
  graceMs: 10_000,
  sessionIdleMs: 8 * 3600_000,
  deviceLimit: 10,
  publicUrl: 'http://localhost:8080',
  fleetName: 'fleetbind',
  quiet: false,
  logLevel: 'info',
  trustProxy: false,
  preAuthPerAddress: 1024,
  maxPendingAuth: 20_000,
  maxAuthWaitMs: 3_000,
  stormCompaction: 1_000,
  requestRate: 20,
  requestBurst: 40,
  agentRequestRate: 20,
  agentRequestBurst: 40,
  queueCap: 20,
  jobAckTimeoutMs: 5_000,
  jobAttempts: 5,
  jobTtlMs: 3600_000,
  jobSweepMs: 1_000,
  leaseLingerMs: 0,
  poolQueueEveryMs: 250,
  primaryBusyAt: 1,
  redisPrefix: 'fleetbind:',
  webhooks: { allowPrivate: false, backoffMs: 5_000, retryForMs: 24 * 3600_000, disableAfterMs: 24 * 3600_000, timeoutMs: 10_000 },
  machines: MACHINE_DEFAULTS,
  production: false,
  requireSignedLabel: false,
  orders: ORDER_DEFAULTS,
  releasePublicKeys: [],
  otaTickMs: 2_000,
  otaAckTimeoutMs: 15_000,
  otaUrlTtlMs: 3600_000,
};

export const BROKER_CLI = defineCli({
  command: 'npm start --',
  usage: ['[options]'],
  summary:
    'Runs one fleetbind broker node: MQTT for devices and agents, the admin API and web app over HTTP, and MQTT over WebSocket at /mqtt. Every option may also come from its FLEETBIND_* variable; a flag wins.',
  options: {
    'data-dir': {
      type: 'string',
      value: 'DIR',
      env: 'FLEETBIND_DATA_DIR',
      help: `where the SQLite registry and initial-admin.txt live (default ${DEFAULTS.dataDir})`,
    },
    host: { type: 'string', value: 'ADDR', env: 'FLEETBIND_HOST', help: `address to listen on (default ${DEFAULTS.host}, every interface)` },
    'mqtt-port': { type: 'string', value: 'PORT', env: 'FLEETBIND_MQTT_PORT', help: `plain MQTT port (default ${DEFAULTS.mqttPort})` },
    'http-port': {
      type: 'string',
      value: 'PORT',
      env: 'FLEETBIND_HTTP_PORT',
      help: `HTTP port of the web app, admin API and MQTT over WebSocket (default ${DEFAULTS.httpPort})`,
    },
    'mqtts-port': {
      type: 'string',
      value: 'PORT',
      env: 'FLEETBIND_MQTTS_PORT',
      help: `MQTT over TLS port, used with --tls-cert and --tls-key (default ${DEFAULTS.mqttsPort})`,
    },
    'tls-cert': { type: 'string', value: 'FILE', env: 'FLEETBIND_TLS_CERT', help: 'PEM certificate (chain) for MQTTS and HTTPS' },
    'tls-key': { type: 'string', value: 'FILE', env: 'FLEETBIND_TLS_KEY', help: 'PEM private key that goes with --tls-cert' },
    'admin-token': {
      type: 'string',
      value: 'TOKEN',
      env: 'FLEETBIND_ADMIN_TOKEN',
      help: 'accepted as an admin bearer token and admin MQTT password, for automation (16 characters or more)',
    },
    'grace-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_GRACE_MS',
      help: `how long a dropped device stays "reconnecting" before it is offline (default ${DEFAULTS.graceMs})`,
    },
    'session-idle-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_SESSION_IDLE_MS',
      help: `a login session ends after this long unused (default ${DEFAULTS.sessionIdleMs})`,
    },
    'device-limit': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_DEVICE_LIMIT',
      help: `devices one agent may hold, unless set per agent (default ${DEFAULTS.deviceLimit})`,
    },
    'public-url': {
      type: 'string',
      value: 'URL',
      env: 'FLEETBIND_PUBLIC_URL',
      help: 'the address phones open: printed into machine labels and claim links (default http://localhost:<http-port>, which a phone cannot reach)',
    },
    'fleet-name': {
      type: 'string',
      value: 'NAME',
      env: 'FLEETBIND_FLEET_NAME',
      help: `the fleet's name on labels and in the web app (default ${DEFAULTS.fleetName})`,
    },
    'log-level': {
      type: 'string',
      value: 'LEVEL',
      env: 'FLEETBIND_LOG_LEVEL',
      help: `pino log level: fatal, error, warn, info, debug or trace (default ${DEFAULTS.logLevel})`,
    },
    'trust-proxy': {
      type: 'string',
      value: 'BOOL',
      env: 'FLEETBIND_TRUST_PROXY',
      help: 'true behind a reverse proxy: take client addresses from X-Forwarded-For (default false)',
    },
    'pre-auth-per-address': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_PRE_AUTH_PER_ADDRESS',
      help: `connections per source address still before CONNACK; more are closed at once (default ${DEFAULTS.preAuthPerAddress})`,
    },
    'max-pending-auth': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_MAX_PENDING_AUTH',
      help: `CONNECTs authenticated at once; more are refused at once with CONNACK 3 (server unavailable) and retry, instead of everyone timing out (default ${DEFAULTS.maxPendingAuth})`,
    },
    'max-auth-wait-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_MAX_AUTH_WAIT_MS',
      help: `once the oldest CONNECT still being authenticated has waited this long, new ones are refused at once with CONNACK 3 and retry (default ${DEFAULTS.maxAuthWaitMs})`,
    },
    'storm-compaction': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_STORM_COMPACTION',
      help: `once a burst of N or more connects has ended, compact the heap so the memory its garbage grew goes back to the system, at the cost of one pause; 0 turns it off (default ${DEFAULTS.stormCompaction})`,
    },
    'request-rate': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_REQUEST_RATE',
      help: `agent requests per second on one connection; more are answered RATE_LIMITED (default ${DEFAULTS.requestRate})`,
    },
    'request-burst': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_REQUEST_BURST',
      help: `agent requests one connection may send at once (default ${DEFAULTS.requestBurst})`,
    },
    'agent-request-rate': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_AGENT_REQUEST_RATE',
      help: `requests per second per agent, over all its connections and nodes (default ${DEFAULTS.agentRequestRate})`,
    },
    'agent-request-burst': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_AGENT_REQUEST_BURST',
      help: `requests one agent may send at once over all its connections (default ${DEFAULTS.agentRequestBurst})`,
    },
    'queue-cap': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_QUEUE_CAP',
      help: `most unfinished jobs one device's queue holds (default ${DEFAULTS.queueCap})`,
    },
    'job-ack-timeout-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_JOB_ACK_TIMEOUT_MS',
      help: `wait this long for a device to accept a job before resending; doubles each time (default ${DEFAULTS.jobAckTimeoutMs})`,
    },
    'job-attempts': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_JOB_ATTEMPTS',
      help: `sends of a job before it fails with NO_ACK (default ${DEFAULTS.jobAttempts})`,
    },
    'job-ttl-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_JOB_TTL_MS',
      help: `how long a job may wait in its queue when the submit names no ttl (default ${DEFAULTS.jobTtlMs})`,
    },
    'lease-linger-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_LEASE_LINGER_MS',
      help: `a pool lease lasts this long past its job, for the same agent's next job (default ${DEFAULTS.leaseLingerMs})`,
    },
    'pool-queue-every-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_POOL_QUEUE_EVERY_MS',
      help: `agents hear where their jobs stand in a pool queue at most this often; 0 after every change (default ${DEFAULTS.poolQueueEveryMs})`,
    },
    'primary-busy-at': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_PRIMARY_BUSY_AT',
      help: `a hybrid submit falls back to the pool when the primary device has this many unfinished jobs (default ${DEFAULTS.primaryBusyAt})`,
    },
    'database-url': {
      type: 'string',
      value: 'URL',
      env: 'FLEETBIND_DATABASE_URL',
      help: 'postgres://… registry instead of the SQLite file; needed for a cluster',
    },
    'redis-url': { type: 'string', value: 'URL', env: 'FLEETBIND_REDIS_URL', help: 'redis://… that joins this node to a cluster (needs --database-url)' },
    'jwt-issuer': {
      type: 'string',
      value: 'ISS',
      env: 'FLEETBIND_JWT_ISSUER',
      help: "agents may log in with your identity provider's tokens: the issuer they must name",
    },
    'jwt-audience': { type: 'string', value: 'AUD', env: 'FLEETBIND_JWT_AUDIENCE', help: 'the audience identity-provider tokens must name' },
    'jwks-url': {
      type: 'string',
      value: 'URL',
      env: 'FLEETBIND_JWKS_URL',
      help: "the identity provider's JWKS, for its token signatures (one of the three key sources)",
    },
    'jwt-public-key': { type: 'string', value: 'FILE', env: 'FLEETBIND_JWT_PUBLIC_KEY', help: 'a PEM public key instead of --jwks-url' },
    'jwt-secret': { type: 'string', value: 'SECRET', env: 'FLEETBIND_JWT_SECRET', help: 'an HS256 secret of 32 characters or more instead of a key' },
    'jwt-agent-claim': { type: 'string', value: 'CLAIM', env: 'FLEETBIND_JWT_AGENT_CLAIM', help: 'the claim holding the agent id (default sub)' },
    'jwt-name-claim': {
      type: 'string',
      value: 'CLAIM',
      env: 'FLEETBIND_JWT_NAME_CLAIM',
      help: 'the claim naming an agent created on first login (default name)',
    },
    'jwt-auto-provision': {
      type: 'boolean',
      env: 'FLEETBIND_JWT_AUTO_PROVISION',
      help: 'create the agent on its first valid token (the variable takes true or false)',
    },
    'jwks-cooldown-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_JWKS_COOLDOWN_MS',
      help: 'least time between two JWKS fetches caused by an unknown key id (default 30000)',
    },
    'order-upload-max-bytes': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_ORDER_UPLOAD_MAX_BYTES',
      help: `largest walk-up design upload in bytes (default ${DEFAULTS.orders.uploadMaxBytes})`,
    },
    'order-session-idle-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_ORDER_SESSION_IDLE_MS',
      help: `a walk-up customer session ends after this long without a request (default ${DEFAULTS.orders.sessionIdleMs})`,
    },
    'orders-per-hour': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_ORDERS_PER_HOUR',
      help: `walk-up orders per hour per customer session and per address; more are answered 429 (default ${DEFAULTS.orders.ordersPerHour})`,
    },
    'upload-bytes-per-hour': {
      type: 'string',
      value: 'SESSION,MACHINE,ADDRESS',
      env: 'FLEETBIND_UPLOAD_BYTES_PER_HOUR',
      help: `bytes of walk-up design uploads per hour per customer session, per machine and per address (default ${Object.values(DEFAULTS.orders.uploadBytesPerHour).join(',')})`,
    },
    'uploads-per-hour': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_UPLOADS_PER_HOUR',
      help: `walk-up design uploads per hour per customer session and per address (default ${DEFAULTS.orders.uploadsPerHour})`,
    },
    'webhooks-allow-private': {
      type: 'boolean',
      env: 'FLEETBIND_WEBHOOKS_ALLOW_PRIVATE',
      help: 'allow webhook URLs on loopback, private and link-local addresses (the variable takes true or false)',
    },
    'webhooks-backoff-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_WEBHOOKS_BACKOFF_MS',
      help: `first webhook retry delay; doubles per failure up to an hour, with jitter (default ${DEFAULTS.webhooks.backoffMs})`,
    },
    'webhooks-retry-for-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_WEBHOOKS_RETRY_FOR_MS',
      help: `give a failing webhook delivery up after this long (default ${DEFAULTS.webhooks.retryForMs})`,
    },
    'webhooks-disable-after-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_WEBHOOKS_DISABLE_AFTER_MS',
      help: `disable an endpoint whose deliveries all failed for this long (default ${DEFAULTS.webhooks.disableAfterMs})`,
    },
    'release-public-keys': {
      type: 'string',
      value: 'KEYS',
      env: 'FLEETBIND_RELEASE_PUBLIC_KEYS',
      help: 'firmware releases must be signed by one of these Ed25519 public keys (base64 of 32 bytes, comma-separated; npm run release -- keygen prints one); without any, every release upload is refused',
    },
    'ota-tick-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_OTA_TICK_MS',
      help: `how often a rollout is driven: sends, resends, soak and wave ends (default ${DEFAULTS.otaTickMs})`,
    },
    'ota-ack-timeout-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_OTA_ACK_TIMEOUT_MS',
      help: `wait this long for a device to accept an update before sending it again (default ${DEFAULTS.otaAckTimeoutMs})`,
    },
    'ota-url-ttl-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_OTA_URL_TTL_MS',
      help: `how long the signed image URL sent with an update stays valid (default ${DEFAULTS.otaUrlTtlMs})`,
    },
    'webhooks-timeout-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_WEBHOOKS_TIMEOUT_MS',
      help: `how long a webhook receiver may take to answer (default ${DEFAULTS.webhooks.timeoutMs})`,
    },
    'machines-low-percent': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_MACHINES_LOW_PERCENT',
      help: `a consumable under this level raises a low alert, unless the device's alerts.inkLowPercent says otherwise (default ${MACHINE_DEFAULTS.lowPercent})`,
    },
    'machines-offline-alert-ms': {
      type: 'string',
      value: 'MS',
      env: 'FLEETBIND_MACHINES_OFFLINE_ALERT_MS',
      help: `a machine offline this long raises an alert (default ${MACHINE_DEFAULTS.offlineAlertMs})`,
    },
    'machines-history-days': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_MACHINES_HISTORY_DAYS',
      help: `consumable and counter history kept this many days (default ${MACHINE_DEFAULTS.historyRetentionMs / 86_400_000})`,
    },
    'machines-state-rate': {
      type: 'string',
      value: 'N',
      env: 'FLEETBIND_MACHINES_STATE_RATE',
      help: `state reports per second one device may send, sustained (default ${MACHINE_DEFAULTS.stateRate})`,
    },
    'machines-device-metrics': {
      type: 'boolean',
      env: 'FLEETBIND_MACHINES_DEVICE_METRICS',
      help: "also export each machine's status and consumable levels with a device label (one series per machine; off by default to keep cardinality bounded; the variable takes true or false)",
    },
    production: {
      type: 'boolean',
      env: 'FLEETBIND_PRODUCTION',
      help: 'a real fleet: placeholder payment QRs (fleetbind:pay?…) are refused; also on when NODE_ENV=production (the variable takes true or false)',
    },
    'require-signed-label': {
      type: 'boolean',
      env: 'FLEETBIND_REQUIRE_SIGNED_LABEL',
      help: 'claims need proof of presence: the signed label or the on-screen claim code; a typed machine code or device id is refused (the variable takes true or false)',
    },
    'payment-template': {
      type: 'string',
      value: 'NAME',
      env: 'FLEETBIND_PAYMENT_TEMPLATE',
      help: `the payment QR format of payment jobs that name none: ${PAYMENT_TEMPLATES.join(', ')}`,
    },
    restore: {
      type: 'string',
      value: 'FILE',
      help: 'first restore this backup (npm run fleet -- backup FILE) into the empty data dir, or the empty database of --database-url, then start',
    },
    'redis-prefix': {
      type: 'string',
      value: 'PREFIX',
      env: 'FLEETBIND_REDIS_PREFIX',
      help: `namespace of every Redis key, so fleets can share a Redis (default ${DEFAULTS.redisPrefix})`,
    },
  },
});

function port(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number (0-65535), got '${v}'`);
  return n;
}

function yesNo(name: string, v: string): boolean {
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw new Error(`--${name} must be true or false, got '${v}'`);
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

function nonNegative(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be an integer of 0 or more, got '${v}'`);
  return n;
}

function url(name: string, v: string, schemes: string[]): string {
  let scheme: string;
  try {
    scheme = new URL(v).protocol;
  } catch {
    throw new Error(`--${name} must be a URL (${schemes.map((s) => `${s}//…`).join(' or ')})`);
  }
  if (!schemes.includes(scheme)) throw new Error(`--${name} must start with ${schemes.map((s) => `${s}//`).join(' or ')}, got ${scheme}//`);
  return v;
}

type Flag = keyof typeof BROKER_CLI.options;

function jwtOptions(get: (k: Flag) => string | undefined): JwtOptions | undefined {
  const given = (k: Flag): string | undefined => {
    const v = get(k);
    return v === undefined || v === '' ? undefined : v;
  };
  const sources = (['jwks-url', 'jwt-public-key', 'jwt-secret'] as const).filter((k) => given(k) !== undefined);
  const issuer = given('jwt-issuer');
  const audience = given('jwt-audience');
  if (sources.length === 0) {
    if (issuer !== undefined || audience !== undefined)
      throw new Error('--jwt-issuer and --jwt-audience need a key: --jwks-url, --jwt-public-key or --jwt-secret');
    return undefined;
  }
  if (sources.length > 1) throw new Error(`use one of --jwks-url, --jwt-public-key and --jwt-secret, not ${sources.map((s) => `--${s}`).join(' and ')}`);
  if (issuer === undefined || audience === undefined)
    throw new Error('identity-provider tokens need --jwt-issuer and --jwt-audience, so tokens minted for other services are refused');
  const secret = given('jwt-secret');
  if (secret !== undefined && secret.length < 32)
    throw new Error('--jwt-secret must be at least 32 characters (HS256 keys shorter than the hash are guessable)');
  const jwksUrl = given('jwks-url');
  const publicKey = given('jwt-public-key');
  const autoProvision = given('jwt-auto-provision');
  const cooldown = given('jwks-cooldown-ms');
  return {
    issuer,
    audience,
    ...(jwksUrl !== undefined ? { jwksUrl: url('jwks-url', jwksUrl, ['https:', 'http:']) } : {}),
    ...(publicKey !== undefined ? { publicKeyFile: resolve(publicKey) } : {}),
    ...(secret !== undefined ? { secret } : {}),
    agentClaim: given('jwt-agent-claim') ?? 'sub',
    nameClaim: given('jwt-name-claim') ?? 'name',
    autoProvision: autoProvision === undefined ? false : yesNo('jwt-auto-provision', autoProvision),
    jwksCooldownMs: cooldown === undefined ? 30_000 : positive('jwks-cooldown-ms', cooldown),
  };
}

/** The broker's options from flags and FLEETBIND_* variables. A mistake throws an Error naming the flag. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BrokerOptions {
  const { values } = parseCli(BROKER_CLI, argv, env);
  const get = (k: Flag): string | undefined => {
    const v = values[k];
    return v === true ? 'true' : v === false ? undefined : v;
  };
  const o: BrokerOptions = { ...DEFAULTS };
  const set = (k: Flag, apply: (v: string) => void): void => {
    const v = get(k);
    if (v !== undefined && v !== '') apply(v);
  };
  set('data-dir', (v) => (o.dataDir = v));
  set('host', (v) => (o.host = v));
  set('mqtt-port', (v) => (o.mqttPort = port('mqtt-port', v)));
  set('http-port', (v) => (o.httpPort = port('http-port', v)));
  set('mqtts-port', (v) => (o.mqttsPort = port('mqtts-port', v)));
  set('tls-cert', (v) => (o.tlsCert = resolve(v)));
  set('tls-key', (v) => (o.tlsKey = resolve(v)));
  set('admin-token', (v) => (o.adminToken = v));
  set('grace-ms', (v) => (o.graceMs = positive('grace-ms', v)));
  set('session-idle-ms', (v) => (o.sessionIdleMs = positive('session-idle-ms', v)));
  set('device-limit', (v) => (o.deviceLimit = positive('device-limit', v)));
  set('public-url', (v) => (o.publicUrl = v));
  set('fleet-name', (v) => (o.fleetName = v));
  set('log-level', (v) => (o.logLevel = v));
  set('trust-proxy', (v) => (o.trustProxy = yesNo('trust-proxy', v)));
  set('pre-auth-per-address', (v) => (o.preAuthPerAddress = positive('pre-auth-per-address', v)));
  set('max-pending-auth', (v) => (o.maxPendingAuth = positive('max-pending-auth', v)));
  set('max-auth-wait-ms', (v) => (o.maxAuthWaitMs = positive('max-auth-wait-ms', v)));
  set('storm-compaction', (v) => (o.stormCompaction = nonNegative('storm-compaction', v)));
  set('request-rate', (v) => (o.requestRate = positive('request-rate', v)));
  set('request-burst', (v) => (o.requestBurst = positive('request-burst', v)));
  set('agent-request-rate', (v) => (o.agentRequestRate = positive('agent-request-rate', v)));
  set('agent-request-burst', (v) => (o.agentRequestBurst = positive('agent-request-burst', v)));
  set('queue-cap', (v) => (o.queueCap = positive('queue-cap', v)));
  set('job-ack-timeout-ms', (v) => (o.jobAckTimeoutMs = positive('job-ack-timeout-ms', v)));
  set('job-attempts', (v) => (o.jobAttempts = positive('job-attempts', v)));
  set('job-ttl-ms', (v) => (o.jobTtlMs = positive('job-ttl-ms', v)));
  set('restore', (v) => (o.restore = resolve(v)));
  set('lease-linger-ms', (v) => (o.leaseLingerMs = nonNegative('lease-linger-ms', v)));
  set('pool-queue-every-ms', (v) => (o.poolQueueEveryMs = nonNegative('pool-queue-every-ms', v)));
  set('primary-busy-at', (v) => (o.primaryBusyAt = positive('primary-busy-at', v)));
  set('database-url', (v) => (o.databaseUrl = url('database-url', v, ['postgres:', 'postgresql:'])));
  set('redis-url', (v) => (o.redisUrl = url('redis-url', v, ['redis:', 'rediss:'])));
  set('redis-prefix', (v) => (o.redisPrefix = v));
  o.jwt = jwtOptions(get);
  o.orders = { ...DEFAULTS.orders };
  set('order-upload-max-bytes', (v) => (o.orders.uploadMaxBytes = positive('order-upload-max-bytes', v)));
  set('order-session-idle-ms', (v) => (o.orders.sessionIdleMs = positive('order-session-idle-ms', v)));
  set('orders-per-hour', (v) => (o.orders.ordersPerHour = positive('orders-per-hour', v)));
  set('uploads-per-hour', (v) => (o.orders.uploadsPerHour = positive('uploads-per-hour', v)));
  set('upload-bytes-per-hour', (v) => {
    const [session, machine, address] = v.split(',').map((n) => positive('upload-bytes-per-hour', n));
    if (address === undefined || v.split(',').length !== 3) throw new Error('--upload-bytes-per-hour takes three numbers: SESSION,MACHINE,ADDRESS');
    o.orders.uploadBytesPerHour = { session: session!, machine: machine!, address };
  });
  o.webhooks = { ...DEFAULTS.webhooks };
  set('webhooks-allow-private', (v) => (o.webhooks.allowPrivate = yesNo('webhooks-allow-private', v)));
  set('webhooks-backoff-ms', (v) => (o.webhooks.backoffMs = positive('webhooks-backoff-ms', v)));
  set('webhooks-retry-for-ms', (v) => (o.webhooks.retryForMs = positive('webhooks-retry-for-ms', v)));
  set('webhooks-disable-after-ms', (v) => (o.webhooks.disableAfterMs = positive('webhooks-disable-after-ms', v)));
  set('webhooks-timeout-ms', (v) => (o.webhooks.timeoutMs = positive('webhooks-timeout-ms', v)));
  o.machines = { ...MACHINE_DEFAULTS };
  set('machines-low-percent', (v) => (o.machines.lowPercent = positive('machines-low-percent', v)));
  set('machines-offline-alert-ms', (v) => (o.machines.offlineAlertMs = positive('machines-offline-alert-ms', v)));
  set('machines-history-days', (v) => (o.machines.historyRetentionMs = positive('machines-history-days', v) * 86_400_000));
  set('machines-state-rate', (v) => (o.machines.stateRate = positive('machines-state-rate', v)));
  set('machines-device-metrics', (v) => (o.machines.deviceMetrics = yesNo('machines-device-metrics', v)));
  o.production = env.NODE_ENV === 'production';
  set('production', (v) => (o.production = yesNo('production', v)));
  set(
    'release-public-keys',
    (v) =>
      (o.releasePublicKeys = v
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k !== '')),
  );
  for (const k of o.releasePublicKeys)
    if (Buffer.from(k, 'base64').length !== 32) throw new Error(`--release-public-keys: ${JSON.stringify(k.slice(0, 60))} is not base64 of 32 bytes`);
  set('ota-tick-ms', (v) => (o.otaTickMs = positive('ota-tick-ms', v)));
  set('ota-ack-timeout-ms', (v) => (o.otaAckTimeoutMs = positive('ota-ack-timeout-ms', v)));
  set('ota-url-ttl-ms', (v) => (o.otaUrlTtlMs = positive('ota-url-ttl-ms', v)));
  set('require-signed-label', (v) => (o.requireSignedLabel = yesNo('require-signed-label', v)));
  set('payment-template', (v) => {
    if (!isPaymentTemplate(v)) throw new Error(`--payment-template must be one of ${PAYMENT_TEMPLATES.join(', ')}, got '${v}'`);
    o.paymentTemplate = v;
  });
  if (o.redisUrl !== undefined && o.databaseUrl === undefined)
    throw new Error('--redis-url needs --database-url too: cluster nodes share their registry in PostgreSQL');
  if (!values['public-url']) o.publicUrl = `http://localhost:${o.httpPort}`;
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (o.adminToken !== undefined && o.adminToken.length < 16) throw new Error('FLEETBIND_ADMIN_TOKEN must be at least 16 characters');
  return o;
}
