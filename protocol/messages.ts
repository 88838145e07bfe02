// Message shapes on the wire (docs/architecture.md, Topic tree) and the validators for those that cross a trust
// boundary. The broker validates what devices and agents send; the firmware validates what
// the broker sends.
import { ErrorCode, ProtocolError, type WireError } from './errors';
import { normaliseId, normaliseMac, normaliseMachineCode } from './ids';
import type { JobState } from './jobs';
import { parseOtaReport, type OtaReport } from './ota';
import type { ScreenSize } from './screen-fit';
import type { SettingsDelta } from './machine-state';
import { type Obj, object, optNum, optStr, num, oneOf, optBool, str, strArray } from './validate';

export const PRESENCE_STATES = ['online', 'reconnecting', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];
export const OFFLINE_REASONS = ['clean', 'keepalive', 'socket', 'takeover', 'kicked', 'broker-restart', 'never-connected'] as const;
export type OfflineReason = (typeof OFFLINE_REASONS)[number];

/** Retained on fb/v1/d/<dev>/status. The broker is the author: it knows the grace window. */
export interface Status {
  state: PresenceState;
  conn: number;
  since: number;
  reason?: OfflineReason;
}

/**
 * `screen`: the display's pixels, on a device that has one; the broker checks each qr.show against it.
 * `sentAt`: the device's uptime in ms when it sent the hello, echoed back in `config.time.hello` so the
 * device can subtract the round trip when it sets its clock from `config.time.now`.
 */
export interface Hello {
  fw: string;
  model: string;
  mac: string;
  caps: string[];
  boot: number;
  uptime: number;
  concurrency?: number;
  machine?: string;
  sentAt?: number;
  ota?: OtaReport;
  screen?: ScreenSize;
}
/** The broker's clock (ms since epoch) when it sent the config, and the hello's `sentAt` it answers. */
export interface BrokerTime {
  now: number;
  hello?: number;
}
/**
 * `delta`: desired settings the device has yet to apply, with their version (docs/architecture.md, Machine state).
 * `error`: what the broker refused in the hello this config answers (a malformed hello, a machine
 * code the device may not announce); the rest of the config is the broker's view, unchanged by it.
 */
export interface Config {
  agent: { id: string; name: string } | null;
  claimCode?: string;
  machine?: string;
  settings: Record<string, unknown>;
  time?: BrokerTime;
  delta?: SettingsDelta;
  error?: WireError;
}
/**
 * `cancel: true` stops the job; `complete: true` tells the device that a held job was completed
 * from outside (a payment backend confirmed a held `qr.show`), so it shows "Paid" and acks done.
 */
export interface Cmd {
  job: string;
  kind: string;
  params: Obj;
  attempt: number;
  deadline: number;
  cancel?: boolean;
  complete?: boolean;
}
export const ACK_STATES = ['accepted', 'progress', 'done', 'failed', 'rejected', 'cancelled'] as const;
export type AckState = (typeof ACK_STATES)[number];
export interface Ack {
  job: string;
  state: AckState;
  progress?: number;
  result?: unknown;
  error?: string;
}
export interface EnrollRequest {
  mac: string;
  model: string;
  fw: string;
  machine?: string;
}
export type EnrollReply = { ok: true; deviceId: string; secret: string } | { ok: false; error: WireError };

export interface BoundDevice {
  id: string;
  machineCode: string | null;
  model: string | null;
  boundAt: number;
  presence: Status;
  /** Present while the device serves the agent through a pool lease, for the lease's job only. */
  lease?: { location: string };
}
/** Retained on fb/v1/a/<agent>/bindings. */
export interface Bindings {
  agent: string;
  devices: BoundDevice[];
  at: number;
}

/** position 0 is a job on the device (dispatched or running), 1 the next to go; eta is ms from the snapshot's `at` until done. */
export interface QueuedJobView {
  job: string;
  kind: string;
  state: JobState;
  position: number;
  eta: number;
  progress?: number;
  agent: string;
}
/** A job that reached a final state since the previous snapshot. */
export interface EndedJobView {
  job: string;
  kind: string;
  state: JobState;
  at: number;
  error?: { code: string; message: string };
}
/** Published on fb/v1/d/<dev>/jobs on every change. */
export interface JobsSnapshot {
  device: string;
  at: number;
  jobs: QueuedJobView[];
  ended?: EndedJobView[];
}

export const AGENT_OPS = ['claim', 'release', 'list', 'submit', 'cancel', 'jobs', 'settings'] as const;
export const ADMIN_OPS = ['transfer', 'release', 'list', 'settings'] as const;
export type RequestId = string | number | null;

export type AgentRequest =
  | { id: RequestId; op: 'claim'; target?: unknown; code?: string }
  | { id: RequestId; op: 'release'; device: string }
  | { id: RequestId; op: 'list' }
  | ({ id: RequestId; op: 'submit' } & SubmitTarget & { kind: string; params: unknown; ttl?: number; idempotencyKey?: string })
  | { id: RequestId; op: 'cancel'; job: string }
  | { id: RequestId; op: 'jobs'; device: string; limit?: number }
  | { id: RequestId; op: 'settings'; device: string; settings: unknown; version?: number };
/** The closed set of agent ops: parseAgentRequest refuses any other op string. */
export type AgentOp = AgentRequest['op'];
export type AgentRequestFor<O extends AgentOp> = Extract<AgentRequest, { op: O }>;

/**
 * Where a submit goes (docs/architecture.md, Locations and pools): a device, a location's pool,
 * or the agent's primary device; `fallback: 'pool'` sends the job to the pool while the device
 * (or primary) is offline or busy. The broker never picks a target the submit did not name.
 */
export interface SubmitTarget {
  device?: string;
  pool?: string;
  primary?: true;
  fallback?: 'pool';
}
/** How a job that named no device found one: the pool, or the primary (or the pool instead of it, and why). */
export const ROUTES = ['pool', 'primary', 'primary-offline', 'primary-busy'] as const;
export type Route = (typeof ROUTES)[number];

export type AdminRequest =
  | { id: RequestId; op: 'transfer'; device: string; agent: string; reason: string; force?: boolean }
  | { id: RequestId; op: 'release'; device: string; reason: string; force?: boolean }
  | { id: RequestId; op: 'list' }
  | { id: RequestId; op: 'settings'; device: string; settings: unknown; version?: number; agentEditable?: unknown };
export type AdminOp = AdminRequest['op'];
export type AdminRequestFor<O extends AdminOp> = Extract<AdminRequest, { op: O }>;

export type Response = { id: RequestId; ok: true; result: unknown } | { id: RequestId; ok: false; error: WireError };

const SHORT = { max: 64 };
const device = (o: Obj, key = 'device'): string => normaliseId(o[key], key, key);

/** Request id is echoed back so a client can match responses; extracted before validation. */
export function requestIdOf(v: unknown): RequestId {
  if (typeof v !== 'object' || v === null) return null;
  const id = (v as Obj).id;
  if (typeof id === 'string' && id.length <= 64) return id;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  return null;
}

function submitTarget(o: Obj): SubmitTarget {
  const t: SubmitTarget = {};
  if (o.device !== undefined) t.device = device(o);
  if (o.pool !== undefined) t.pool = normaliseId(o.pool, 'location id', 'pool');
  if (o.primary !== undefined) {
    if (o.primary !== true) throw new ProtocolError(ErrorCode.BAD_TARGET, 'primary must be true when given', 'primary');
    t.primary = true;
  }
  if (o.fallback !== undefined) {
    if (o.fallback !== 'pool') throw new ProtocolError(ErrorCode.BAD_TARGET, "fallback must be 'pool' when given", 'fallback');
    t.fallback = 'pool';
  }
  return t;
}

export function parseAgentRequest(v: unknown): AgentRequest {
  const o = object(v, 'request');
  const id = requestIdOf(o);
  const op = o.op;
  if (typeof op !== 'string') throw new ProtocolError(ErrorCode.BAD_REQUEST, 'op must be a string', 'op');
  switch (op) {
    case 'claim': {
      if (o.target === undefined && o.code === undefined) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'claim needs a target or a claim code', 'target');
      const code = optStr(o, 'code', { min: 4, max: 12 });
      return code === undefined ? { id, op, target: o.target } : { id, op, target: o.target, code };
    }
    case 'release':
      return { id, op, device: device(o) };
    case 'list':
      return { id, op };
    case 'submit': {
      const r: AgentRequest = { id, op, ...submitTarget(o), kind: str(o, 'kind', SHORT), params: o.params ?? {} };
      const ttl = optNum(o, 'ttl', { min: 1, max: 7 * 24 * 3600, integer: true });
      const key = optStr(o, 'idempotencyKey', { min: 1, max: 128 });
      if (ttl !== undefined) r.ttl = ttl;
      if (key !== undefined) r.idempotencyKey = key;
      return r;
    }
    case 'cancel':
      return { id, op, job: normaliseId(o.job, 'job', 'job') };
    case 'jobs': {
      const limit = optNum(o, 'limit', { min: 1, max: 1000, integer: true });
      return limit === undefined ? { id, op, device: device(o) } : { id, op, device: device(o), limit };
    }
    case 'settings': {
      // The settings themselves are checked against protocol/machine-state.ts by the broker.
      const version = optNum(o, 'version', { min: 0, integer: true });
      return version === undefined ? { id, op, device: device(o), settings: o.settings } : { id, op, device: device(o), settings: o.settings, version };
    }
    default:
      throw new ProtocolError(ErrorCode.UNKNOWN_OP, `unknown op '${op.slice(0, 32)}'`, 'op');
  }
}

export function parseAdminRequest(v: unknown): AdminRequest {
  const o = object(v, 'request');
  const id = requestIdOf(o);
  const op = o.op;
  if (typeof op !== 'string') throw new ProtocolError(ErrorCode.BAD_REQUEST, 'op must be a string', 'op');
  const force = optBool(o, 'force');
  switch (op) {
    case 'transfer':
      return {
        id,
        op,
        device: device(o),
        agent: normaliseId(o.agent, 'agent', 'agent'),
        reason: str(o, 'reason', { min: 1, max: 500 }),
        ...(force === undefined ? {} : { force }),
      };
    case 'release':
      return { id, op, device: device(o), reason: str(o, 'reason', { min: 1, max: 500 }), ...(force === undefined ? {} : { force }) };
    case 'list':
      return { id, op };
    case 'settings': {
      // As the agents' op, plus which settings the holder may change; both checked by the broker.
      const version = optNum(o, 'version', { min: 0, integer: true });
      return {
        id,
        op,
        device: device(o),
        settings: o.settings,
        ...(version === undefined ? {} : { version }),
        ...(o.agentEditable === undefined ? {} : { agentEditable: o.agentEditable }),
      };
    }
    default:
      throw new ProtocolError(ErrorCode.UNKNOWN_OP, `unknown op '${op.slice(0, 32)}'`, 'op');
  }
}

export function parseHello(v: unknown): Hello {
  const o = object(v, 'hello');
  const h: Hello = {
    fw: str(o, 'fw', { min: 1, max: 64 }),
    model: str(o, 'model', { min: 1, max: 64 }),
    mac: normaliseMac(o.mac),
    caps: strArray(o, 'caps', { maxItems: 32, item: { min: 1, max: 32 } }),
    boot: num(o, 'boot', { min: 0, integer: true }),
    uptime: num(o, 'uptime', { min: 0 }),
  };
  const concurrency = optNum(o, 'concurrency', { min: 1, max: 8, integer: true });
  if (concurrency !== undefined) h.concurrency = concurrency;
  if (o.machine !== undefined && o.machine !== null && o.machine !== '') h.machine = normaliseMachineCode(o.machine, 'machine');
  const sentAt = optNum(o, 'sentAt', { min: 0, integer: true });
  if (sentAt !== undefined) h.sentAt = sentAt;
  if (o.ota !== undefined) h.ota = parseOtaReport(o.ota);
  if (o.screen !== undefined) {
    const s = object(o.screen, 'screen');
    const px = { min: 1, max: 4096, integer: true };
    h.screen = { width: num({ 'screen.width': s.width }, 'screen.width', px), height: num({ 'screen.height': s.height }, 'screen.height', px) };
  }
  return h;
}

export function parseAck(v: unknown): Ack {
  const o = object(v, 'ack');
  const a: Ack = { job: normaliseId(o.job, 'job', 'job'), state: oneOf(o, 'state', ACK_STATES) };
  const progress = optNum(o, 'progress', { min: 0, max: 100 });
  const error = optStr(o, 'error', { max: 500 });
  if (progress !== undefined) a.progress = progress;
  if (error !== undefined) a.error = error;
  if (o.result !== undefined) a.result = o.result;
  return a;
}

export function parseEnrollRequest(v: unknown): EnrollRequest {
  const o = object(v, 'enroll');
  const r: EnrollRequest = { mac: normaliseMac(o.mac), model: str(o, 'model', { min: 1, max: 64 }), fw: str(o, 'fw', { min: 1, max: 64 }) };
  if (o.machine !== undefined && o.machine !== null && o.machine !== '') r.machine = normaliseMachineCode(o.machine, 'machine');
  return r;
}

export function parseCmd(v: unknown): Cmd {
  const o = object(v, 'cmd');
  const c: Cmd = {
    job: normaliseId(o.job, 'job', 'job'),
    kind: str(o, 'kind', SHORT),
    params: o.params === undefined ? {} : object(o.params, 'params'),
    attempt: num(o, 'attempt', { min: 1, integer: true }),
    deadline: num(o, 'deadline', { min: 0 }),
  };
  if (o.cancel === true) c.cancel = true;
  else if (o.complete === true) c.complete = true;
  return c;
}

export function parseConfig(v: unknown): Config {
  const o = object(v, 'config');
  let agent: Config['agent'] = null;
  if (o.agent !== null && o.agent !== undefined) {
    const a = object(o.agent, 'agent');
    // Nested fields are named by their path (agent.name, error.code), as strArray names its items.
    agent = { id: normaliseId(a.id, 'agent', 'agent.id'), name: str({ 'agent.name': a.name }, 'agent.name', { max: 128 }) };
  }
  const c: Config = { agent, settings: o.settings === undefined ? {} : object(o.settings, 'settings') };
  const claimCode = optStr(o, 'claimCode', { min: 4, max: 12 });
  const machine = optStr(o, 'machine', { max: 32 });
  if (claimCode !== undefined) c.claimCode = claimCode;
  if (machine !== undefined) c.machine = machine;
  if (o.time !== undefined) {
    const t = object(o.time, 'time');
    const time: BrokerTime = { now: num({ 'time.now': t.now }, 'time.now', { min: 0, integer: true }) };
    const hello = optNum({ 'time.hello': t.hello }, 'time.hello', { min: 0, integer: true });
    if (hello !== undefined) time.hello = hello;
    c.time = time;
  }
  if (o.delta !== undefined) {
    const d = object(o.delta, 'delta');
    // Settings are not checked here: the device applies those it knows and skips the rest (a newer broker may know more).
    c.delta = {
      version: num({ 'delta.version': d.version }, 'delta.version', { min: 1, integer: true }),
      settings: object(d.settings, 'delta.settings') as SettingsDelta['settings'],
    };
  }
  if (o.error !== undefined) c.error = parseWireError(o.error);
  return c;
}

/** An error object the broker sent ({code, message, field?}); the code is kept as sent, so a newer broker's code still reads. */
function parseWireError(v: unknown): WireError {
  const e = object(v, 'error');
  const error: WireError = {
    code: str({ 'error.code': e.code }, 'error.code', SHORT) as WireError['code'],
    message: str({ 'error.message': e.message }, 'error.message', { max: 500 }),
  };
  const field = optStr({ 'error.field': e.field }, 'error.field', SHORT);
  if (field !== undefined) error.field = field;
  return error;
}

export function parseEnrollReply(v: unknown): EnrollReply {
  const o = object(v, 'reply');
  if (o.ok === true) return { ok: true, deviceId: normaliseId(o.deviceId, 'deviceId', 'deviceId'), secret: str(o, 'secret', { min: 16, max: 128 }) };
  const { code, message } = parseWireError(o.error);
  return { ok: false, error: { code, message } };
}

/**
 * The job a device event (`d/<dev>/evt/<stream>`) belongs to, when the device names it: a JSON
 * object payload with a string `job`. Any other payload names none; the broker then files it
 * under the device's only running job, if there is exactly one.
 */
export function eventJob(text: string): string | null {
  if (!text.startsWith('{')) return null;
  try {
    const v: unknown = JSON.parse(text);
    const job = v !== null && typeof v === 'object' ? (v as { job?: unknown }).job : undefined;
    return typeof job === 'string' && job.length > 0 && job.length <= 64 ? job : null;
  } catch {
    return null;
  }
}
