// What the broker's parts share, in the phases a node is built in (docs/architecture.md, How a node
// starts): the node's own services, then MQTT, then the job system and the features on it. Built
// once by broker/start/ and passed down explicitly.
import type { Aedes } from 'aedes';
import type { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { BindingMap } from './binding-map';
import type { ClaimCodes } from './claim-codes';
import type { Backends } from './backends/backends';
import type { DispatchLease } from './jobs/lease';
import type { BrokerOptions } from './config';
import type { Logger } from './logger';
import type { HashQueue } from './auth/hash-queue';
import type { Metrics } from './metrics';
import type { Presence } from './presence';
import type { LoginThrottle } from './rate-limit';
import type { LiveCredentials } from './live-credentials';
import type { RequestLimiter } from './request-limit';
import type { Database } from './store/schema';
import type { GroupWriter } from './store/group-writer';
import type { TxGate } from './store/tx-gate';
import type { OfflineReason } from '../protocol/messages';
import type { BrokerEvents, KickTarget } from './events';
import type { JwtVerifier } from './auth/jwt';
import type { BlobStore } from './blobs/store';
import type { BlobUrls } from './blobs/signed-url';

/** Phase 1: the registry and the node's own services, before anything listens or connects. */
export interface CoreContext {
  opts: BrokerOptions;
  db: Kysely<Database>;
  /** Group commit for frequent small writes (hellos, enrollments). */
  writer: GroupWriter<Database>;
  /** On PostgreSQL, how many claim transactions run at once (see claims.ts). */
  claimGate: TxGate;
  log: Logger;
  metrics: Metrics;
  bindings: BindingMap;
  claimCodes: ClaimCodes;
  /** What the node's mode provides: SQLite alone, PostgreSQL, or a cluster on PostgreSQL and Redis (backends/). */
  backends: Backends;
  /** Which node dispatches each device's jobs (always this one on a single node). */
  lease: DispatchLease;
  /** Failed logins (REST) and MQTT connects, per subject and address (rate-limit.ts). */
  throttle: LoginThrottle;
  /** Agent request rate limits, per connection and per agent (request-limit.ts). */
  requestLimits: RequestLimiter;
  /** This node's live connections by the credential they authenticated with. */
  credentials: LiveCredentials;
  events: EventEmitter<BrokerEvents>;
  labelKey: string;
  /** Content-addressed blobs: files on a SQLite node, PostgreSQL otherwise (blobs/store.ts). */
  blobs: BlobStore;
  /** Signs and checks the short-lived blob URLs devices and browsers fetch with. */
  blobUrls: BlobUrls;
  /** Origin that signed blob URLs sent to devices start with. */
  blobBaseUrl: string;
  /** Verifies agents' tokens from the operator's identity provider; null when not configured. */
  jwt: JwtVerifier | null;
  /** Where scrypt device hashes from older brokers are verified, once per device (auth/device-login.ts). */
  hashes: HashQueue;
  /** The server key device secrets are stored under (HMAC-SHA-256; see auth/device-secrets.ts). */
  deviceKey: Buffer;
  /** Agents whose retained bindings are due to be republished (see scheduleBindings). */
  bindingTimers: Map<string, NodeJS.Timeout>;
  /** A real hash to verify against when a login names no known account (equal timing). */
  dummyHash: string;
  closing: boolean;
  now(): number;
}

/** Phase 2: MQTT exists (broker/start/mqtt.ts). */
export interface MqttContext extends CoreContext {
  aedes: Aedes;
  presence: Presence;
  /** Closes the target's connections on every node, recording the reason for presence; resolves with how many. */
  kick(target: KickTarget, reason: OfflineReason): Promise<number>;
}

/**
 * The job system and the features built on it. Each part declares its own slot here from its own
 * module, by interface merging (jobs/index.ts, machines/index.ts, ota/index.ts, pools/pools.ts,
 * orders/service.ts): those modules all read the context, so this file imports none of them and the
 * broker's import graph has no circle (docs/architecture.md, How a node starts).
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the part modules' `declare module` blocks
export interface LateParts {}

/** Phase 3: the job system and the features on it; what every request handler sees. */
export interface Context extends MqttContext, LateParts {}

/** The parts filled in after the node's own services, each by the start step that builds it. */
export type LatePart = Exclude<keyof Context, keyof CoreContext>;
