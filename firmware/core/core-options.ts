// What a device core can be told when it is made, and the defaults a board runs with
// (docs/architecture.md, Firmware).
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import type { JobHandlers } from './job-handler';

export type CoreState = 'boot' | 'unprovisioned' | 'wifi' | 'enroll' | 'mqtt' | 'hello' | 'ready' | 'busy' | 'stopped';

export interface CoreOptions {
  /** MQTT keepalive in seconds; never 0 (docs/architecture.md, Presence). */
  keepaliveS: number;
  wifiBackoff: BackoffOptions;
  mqttBackoff: BackoffOptions;
  /** No IP address within this → drop and retry. */
  wifiTimeoutMs: number;
  /** No CONNACK within this → drop and retry. */
  connectTimeoutMs: number;
  /** No enrollment reply within this → drop and retry. */
  enrollReplyTimeoutMs: number;
  /** How many recent job ids the dedupe ring remembers. */
  dedupeSize: number;
  /** Larger inbound messages are dropped unparsed. */
  maxPayloadChars: number;
  /** How long a QR without expiry or hold stays up. */
  qrDisplayMs: number;
  /** How long a new image may take to reach the broker before it rolls back. */
  otaTrialMs: number;
  /** Least time between two state reports; changes in between are coalesced into one. */
  stateMinIntervalMs: number;
  /** The whole state is reported at least this often. */
  stateReportMs: number;
  /** How often the attached machine is asked for its status over serial; 0 when there is none to ask. */
  machinePollMs: number;
  handlers?: JobHandlers;
  onState?: (state: CoreState) => void;
}

export const DEFAULT_CORE_OPTIONS: CoreOptions = {
  keepaliveS: 30,
  wifiBackoff: DEFAULT_BACKOFF,
  mqttBackoff: DEFAULT_BACKOFF,
  wifiTimeoutMs: 20_000,
  connectTimeoutMs: 15_000,
  enrollReplyTimeoutMs: 15_000,
  dedupeSize: 32,
  maxPayloadChars: 8_192,
  qrDisplayMs: 60_000,
  otaTrialMs: 5 * 60_000,
  stateMinIntervalMs: 1_000,
  stateReportMs: 5 * 60_000,
  machinePollMs: 0,
};
