// Broker options from CLI flags and FLEETBIND_* environment variables (flags win).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JwtOptions } from './auth/jwt';

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
  /** PostgreSQL registry (postgres://…) instead of the embedded SQLite file; required for a cluster. */
  databaseUrl?: string;
  /** Redis (redis://…) that joins this node to a cluster: MQTT routing, retained messages, presence. */
  redisUrl?: string;
  /** Namespace of every Redis key and channel, so several fleets can share one Redis. */
  redisPrefix: string;
  /** Agents log in with tokens from the operator's identity provider; undefined when off. */
  jwt?: JwtOptions;
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
  queueCap: 20,
  jobAckTimeoutMs: 5_000,
  jobAttempts: 5,
  jobTtlMs: 3600_000,
  jobSweepMs: 1_000,
  redisPrefix: 'fleetbind:',
};

const FLAGS = {
  'data-dir': 'FLEETBIND_DATA_DIR',
  host: 'FLEETBIND_HOST',
  'mqtt-port': 'FLEETBIND_MQTT_PORT',
  'http-port': 'FLEETBIND_HTTP_PORT',
  'mqtts-port': 'FLEETBIND_MQTTS_PORT',
  'tls-cert': 'FLEETBIND_TLS_CERT',
  'tls-key': 'FLEETBIND_TLS_KEY',
  'admin-token': 'FLEETBIND_ADMIN_TOKEN',
  'grace-ms': 'FLEETBIND_GRACE_MS',
  'session-idle-ms': 'FLEETBIND_SESSION_IDLE_MS',
  'device-limit': 'FLEETBIND_DEVICE_LIMIT',
  'public-url': 'FLEETBIND_PUBLIC_URL',
  'fleet-name': 'FLEETBIND_FLEET_NAME',
  'log-level': 'FLEETBIND_LOG_LEVEL',
  'trust-proxy': 'FLEETBIND_TRUST_PROXY',
  'queue-cap': 'FLEETBIND_QUEUE_CAP',
  'job-ack-timeout-ms': 'FLEETBIND_JOB_ACK_TIMEOUT_MS',
  'job-attempts': 'FLEETBIND_JOB_ATTEMPTS',
  'job-ttl-ms': 'FLEETBIND_JOB_TTL_MS',
  'database-url': 'FLEETBIND_DATABASE_URL',
  'redis-url': 'FLEETBIND_REDIS_URL',
  'redis-prefix': 'FLEETBIND_REDIS_PREFIX',
  'jwt-issuer': 'FLEETBIND_JWT_ISSUER',
  'jwt-audience': 'FLEETBIND_JWT_AUDIENCE',
  'jwks-url': 'FLEETBIND_JWKS_URL',
  'jwt-public-key': 'FLEETBIND_JWT_PUBLIC_KEY',
  'jwt-secret': 'FLEETBIND_JWT_SECRET',
  'jwt-agent-claim': 'FLEETBIND_JWT_AGENT_CLAIM',
  'jwt-name-claim': 'FLEETBIND_JWT_NAME_CLAIM',
  'jwt-auto-provision': 'FLEETBIND_JWT_AUTO_PROVISION',
  'jwks-cooldown-ms': 'FLEETBIND_JWKS_COOLDOWN_MS',
} as const;

/** Flags given without a value (`--jwt-auto-provision`); their environment variables take true or false. */
const SWITCHES: ReadonlySet<string> = new Set(['jwt-auto-provision']);

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

function jwtOptions(get: (k: keyof typeof FLAGS) => string | undefined): JwtOptions | undefined {
  const given = (k: keyof typeof FLAGS): string | undefined => {
    const v = get(k);
    return v === undefined || v === '' ? undefined : v;
  };
  const sources = (['jwks-url', 'jwt-public-key', 'jwt-secret'] as const).filter((k) => given(k) !== undefined);
  const issuer = given('jwt-issuer');
  const audience = given('jwt-audience');
  if (sources.length === 0) {
    if (issuer !== undefined || audience !== undefined) throw new Error('--jwt-issuer and --jwt-audience need a key: --jwks-url, --jwt-public-key or --jwt-secret');
    return undefined;
  }
  if (sources.length > 1) throw new Error(`use one of --jwks-url, --jwt-public-key and --jwt-secret, not ${sources.map((s) => `--${s}`).join(' and ')}`);
  if (issuer === undefined || audience === undefined) throw new Error('identity-provider tokens need --jwt-issuer and --jwt-audience, so tokens minted for other services are refused');
  const secret = given('jwt-secret');
  if (secret !== undefined && secret.length < 32) throw new Error('--jwt-secret must be at least 32 characters (HS256 keys shorter than the hash are guessable)');
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

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BrokerOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: SWITCHES.has(k) ? ('boolean' as const) : ('string' as const) }])),
    strict: true,
  });
  const get = (k: keyof typeof FLAGS): string | undefined => {
    const v = values[k];
    return v === true ? 'true' : ((v as string | undefined) ?? env[FLAGS[k]]);
  };
  const o: BrokerOptions = { ...DEFAULTS };
  const set = <K extends keyof typeof FLAGS>(k: K, apply: (v: string) => void): void => {
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
  set('queue-cap', (v) => (o.queueCap = positive('queue-cap', v)));
  set('job-ack-timeout-ms', (v) => (o.jobAckTimeoutMs = positive('job-ack-timeout-ms', v)));
  set('job-attempts', (v) => (o.jobAttempts = positive('job-attempts', v)));
  set('job-ttl-ms', (v) => (o.jobTtlMs = positive('job-ttl-ms', v)));
  set('database-url', (v) => (o.databaseUrl = url('database-url', v, ['postgres:', 'postgresql:'])));
  set('redis-url', (v) => (o.redisUrl = url('redis-url', v, ['redis:', 'rediss:'])));
  set('redis-prefix', (v) => (o.redisPrefix = v));
  o.jwt = jwtOptions(get);
  if (o.redisUrl !== undefined && o.databaseUrl === undefined) throw new Error('--redis-url needs --database-url too: cluster nodes share their registry in PostgreSQL');
  if (!values['public-url'] && !env.FLEETBIND_PUBLIC_URL) o.publicUrl = `http://localhost:${o.httpPort}`;
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (o.adminToken !== undefined && o.adminToken.length < 16) throw new Error('FLEETBIND_ADMIN_TOKEN must be at least 16 characters');
  return o;
}
