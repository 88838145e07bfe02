// Over-the-air updates on the wire (docs/architecture.md, Over-the-air updates): the release
// manifest that a release key signs, the `ota` command's params, and what a device says about
// its last update in `hello`. Pure TS: the broker, the release tool and the firmware share it.
import { ErrorCode, ProtocolError } from './errors';
import { type Obj, object, optStr, num, oneOf, parseJson, str, strArray } from './validate';

/** The cmd kind of an update. Not a job kind: agents cannot submit it; only a rollout sends it. */
export const OTA_KIND = 'ota';
/** Every `ota` cmd's job id starts so (`ota.<rollout>.<try>`), which keeps them apart from queued jobs. */
export const OTA_JOB_PREFIX = 'ota.';

/** x.y.z with an optional -prerelease or +build suffix; compared numerically part by part, the suffix ignored. */
const VERSION = /^\d{1,6}\.\d{1,6}\.\d{1,6}(?:[-+][0-9A-Za-z.+-]{1,40})?$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MODEL = /^[A-Za-z0-9_.-]{1,64}$/;
const P = ErrorCode.BAD_PARAMS;

/**
 * What a release key signs: the exact UTF-8 text of this JSON object is the signed message, and
 * it travels as that text, so no party ever re-serialises it before verifying.
 * `minVersion`: once this release is installed, the device refuses any later release older than
 * it (an anti-rollback floor, e.g. after a security fix).
 */
export interface ReleaseManifest {
  version: string;
  models: string[];
  size: number;
  sha256: string;
  minVersion?: string;
  notes?: string;
}

/** Largest image a manifest may describe (the biggest ESP32 app partition is well under this). */
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
/** Largest manifest text accepted; it travels inside a cmd, whose limit is 8 KiB on the device. */
export const MAX_MANIFEST_CHARS = 2_048;

export function parseManifest(v: unknown, code: ErrorCode = P): ReleaseManifest {
  const o = object(v, 'manifest', code);
  const m: ReleaseManifest = {
    version: str(o, 'version', { pattern: VERSION, code }),
    models: strArray(o, 'models', { maxItems: 16, item: { pattern: MODEL, code } }),
    size: num(o, 'size', { min: 1, max: MAX_IMAGE_BYTES, integer: true, code }),
    sha256: str(o, 'sha256', { pattern: SHA256_HEX, code }),
  };
  if (m.models.length === 0) throw new ProtocolError(code, 'models must name at least one model', 'models');
  const minVersion = optStr(o, 'minVersion', { pattern: VERSION, code });
  const notes = optStr(o, 'notes', { max: 500, code });
  if (minVersion !== undefined) m.minVersion = minVersion;
  if (notes !== undefined) m.notes = notes;
  return m;
}

/** Parses the manifest text exactly as it was signed. */
export function parseManifestText(text: string, code: ErrorCode = P): ReleaseManifest {
  if (text.length > MAX_MANIFEST_CHARS) throw new ProtocolError(code, `manifest is longer than ${MAX_MANIFEST_CHARS} characters`, 'manifest');
  return parseManifest(parseJson(text, code), code);
}

/** The `ota` cmd's params. `manifest` is the signed text; `sig` the base64 Ed25519 signature over it. */
export interface OtaParams {
  url: string;
  size: number;
  sha256: string;
  manifest: string;
  sig: string;
}

export function parseOtaParams(v: unknown): OtaParams {
  const o: Obj = object(v, 'params', P);
  return {
    url: str(o, 'url', { min: 8, max: 1024, pattern: /^https?:\/\/\S+$/, code: P }),
    size: num(o, 'size', { min: 1, max: MAX_IMAGE_BYTES, integer: true, code: P }),
    sha256: str(o, 'sha256', { pattern: SHA256_HEX, code: P }),
    manifest: str(o, 'manifest', { min: 2, max: MAX_MANIFEST_CHARS, code: P }),
    sig: str(o, 'sig', { min: 88, max: 88, pattern: BASE64, code: P }),
  };
}

/** -1, 0 or 1 as `a` is older than, the same as or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[-+]/)[0]!.split('.').map(Number);
  const pb = b.split(/[-+]/)[0]!.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function isVersion(v: string): boolean {
  return VERSION.test(v);
}

/**
 * What a device says in `hello` about its last update, once, on the first connect after it:
 * `confirmed` (the new image reached the broker and marked itself valid) or `rolled-back` (the
 * old image is running again, with the reason).
 */
export const OTA_OUTCOMES = ['confirmed', 'rolled-back'] as const;
export type OtaOutcome = (typeof OTA_OUTCOMES)[number];
export interface OtaReport {
  job: string;
  version: string;
  outcome: OtaOutcome;
  reason?: string;
}

export function parseOtaReport(v: unknown): OtaReport {
  const o = object(v, 'ota');
  const r: OtaReport = {
    job: str(o, 'job', { min: 1, max: 64 }),
    version: str(o, 'version', { pattern: VERSION }),
    outcome: oneOf(o, 'outcome', OTA_OUTCOMES),
  };
  const reason = optStr(o, 'reason', { max: 200 });
  if (reason !== undefined) r.reason = reason;
  return r;
}

/** Per-device states of a rollout (docs/architecture.md, Over-the-air updates). */
export const ROLLOUT_DEVICE_STATES = ['pending', 'sent', 'downloading', 'installed', 'confirmed', 'failed', 'rolled-back', 'skipped-busy'] as const;
export type RolloutDeviceState = (typeof ROLLOUT_DEVICE_STATES)[number];
export const ROLLOUT_STATES = ['running', 'paused', 'cancelled', 'done'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

export type RolloutTarget = { all: true } | { location: string } | { model: string } | { devices: string[] };

/**
 * When a rollout may send new commands: daily from `start` to `end` (HH:MM, 24 h) on the wall
 * clock of `timeZone` (IANA, default UTC); an `end` before `start` runs past midnight.
 */
export interface RolloutWindow {
  start: string;
  end: string;
  timeZone: string;
}

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The window's shape; its time zone is checked by the broker (broker/ota/window.ts), which has Intl. */
export function parseRolloutWindow(v: unknown): RolloutWindow {
  const o = object(v, 'window');
  const start = str(o, 'start', { pattern: HH_MM });
  const end = str(o, 'end', { pattern: HH_MM });
  if (start === end) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'window start and end must differ (leave window out to send at any time)', 'window');
  return { start, end, timeZone: optStr(o, 'timeZone', { min: 1, max: 64 }) ?? 'UTC' };
}

export interface RolloutRequest {
  release: string;
  target: RolloutTarget;
  /** Cumulative percents of the target, increasing, ending at 100. */
  waves: number[];
  waveSoakMinutes: number;
  maxFailurePercent: number;
  /** New commands go out only inside it; absent, at any time. */
  window?: RolloutWindow;
}

export function parseRolloutRequest(v: unknown): RolloutRequest {
  const o = object(v, 'body');
  const t = object(o.target, 'target');
  let target: RolloutTarget;
  if (t.all === true) target = { all: true };
  else if (typeof t.location === 'string') target = { location: str(t, 'location', { min: 1, max: 64 }) };
  else if (typeof t.model === 'string') target = { model: str(t, 'model', { pattern: MODEL }) };
  else if (Array.isArray(t.devices)) target = { devices: strArray(t, 'devices', { maxItems: 10_000, item: { min: 1, max: 64 } }) };
  else throw new ProtocolError(ErrorCode.BAD_REQUEST, 'target is {all: true}, {location}, {model} or {devices: [...]}', 'target');
  const waves = o.waves === undefined ? [1, 10, 50, 100] : o.waves;
  if (!Array.isArray(waves) || waves.length === 0 || waves.length > 20)
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'waves is a list of 1 to 20 percents', 'waves');
  let last = 0;
  for (const w of waves) {
    if (typeof w !== 'number' || !(w > last) || w > 100)
      throw new ProtocolError(ErrorCode.BAD_REQUEST, 'waves must increase, each above 0 and at most 100', 'waves');
    last = w;
  }
  if (last !== 100) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'the last wave must be 100 (the whole target)', 'waves');
  return {
    release: str(o, 'release', { pattern: VERSION }),
    target,
    waves: waves as number[],
    waveSoakMinutes: o.waveSoakMinutes === undefined ? 30 : num(o, 'waveSoakMinutes', { min: 0, max: 10_080 }),
    maxFailurePercent: o.maxFailurePercent === undefined ? 5 : num(o, 'maxFailurePercent', { min: 0, max: 100 }),
    ...(o.window === undefined || o.window === null ? {} : { window: parseRolloutWindow(o.window) }),
  };
}

/**
 * What admins are told on `fb/v1/admin/alerts` (beside machine alerts, whose `event` is
 * raised/cleared/acked) when a rollout needs a person: it paused itself because a wave failed too
 * often, or it finished with devices that failed or rolled back.
 */
export const ROLLOUT_ALERT_KINDS = ['rollout-paused', 'rollout-finished-with-failures'] as const;
export type RolloutAlertKind = (typeof ROLLOUT_ALERT_KINDS)[number];
export interface RolloutAlert {
  event: 'rollout';
  kind: RolloutAlertKind;
  rollout: string;
  release: string;
  /** Index of the wave it stopped in or finished with. */
  wave: number;
  failed: number;
  rolledBack: number;
  message: string;
  at: number;
}
