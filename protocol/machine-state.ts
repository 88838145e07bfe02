// Reported machine state and desired settings (docs/architecture.md, Machine state). A device
// publishes JSON merge patches (RFC 7396) of its reported state on `d/<dev>/state`; the broker
// validates each patch here before it changes anything, merges it into the shadow and computes
// the settings delta it sends back in `config`. Runs on XS (firmware) and Node (broker): no
// dependencies.
import { ErrorCode, ProtocolError } from './errors';

export const MACHINE_STATES = ['idle', 'busy', 'error', 'maintenance'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

/** What the broker derives from presence plus reported state; the one status every view shows. */
export const MACHINE_STATUSES = ['offline', 'reconnecting', 'idle', 'busy', 'error', 'maintenance', 'attention'] as const;
export type MachineStatus = (typeof MACHINE_STATUSES)[number];

export type SettingValue = string | number | boolean;

interface SettingSpec {
  type: 'integer' | 'string' | 'boolean';
  min?: number;
  max?: number;
  pattern?: RegExp;
  maxLength?: number;
}

/** Settings a device may be given; anything else is refused, on both sides. */
export const SETTINGS: Record<string, SettingSpec> = {
  'display.brightness': { type: 'integer', min: 0, max: 100 },
  'display.language': { type: 'string', pattern: /^[a-z]{2}(-[a-z]{2})?$/, maxLength: 5 },
  'qr.defaultExpirySeconds': { type: 'integer', min: 10, max: 86400 },
  'alerts.inkLowPercent': { type: 'integer', min: 0, max: 100 },
};
export const SETTING_KEYS = Object.keys(SETTINGS);

/** Names of consumables and counters: `ink.c`, `paper`, `prints`. */
export const STATE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,15}(\.[a-z0-9_]{1,16})?$/;
export const MAX_CONSUMABLES = 16;
export const MAX_COUNTERS = 32;
const MAX_ERROR_CODE = 32;
const MAX_ERROR_MESSAGE = 200;
const MAX_UNIT = 8;
const MAX_JOB_ID = 64;

export interface MachineError {
  code: string;
  message: string;
}
export interface ReportedMachine {
  status?: MachineState;
  error?: MachineError;
  job?: string;
}
export interface Consumable {
  level: number;
  unit?: string;
}
export interface ReportedState {
  machine?: ReportedMachine;
  consumables?: Record<string, Consumable>;
  counters?: Record<string, number>;
  settings?: Record<string, SettingValue>;
}
/** A merge patch: as ReportedState, where null removes a field. */
export type StatePatch = Record<string, unknown>;

export interface Shadow {
  device: string;
  /** Bumped by every accepted change, reported or desired. */
  version: number;
  /** Bumped by every change of the desired settings; a device ignores a delta older than one it applied. */
  desiredVersion: number;
  reported: ReportedState;
  desired: Record<string, SettingValue>;
  /** Desired settings the device has not reported yet. */
  delta: Record<string, SettingValue>;
  /** When each field last changed: `machine.status`, `consumables.ink.c`, `settings.display.brightness`, `desired.…`. */
  metadata: Record<string, number>;
  updatedAt: number;
  /** The fleet's low level for consumables (the broker's --machines-low-percent); a machine's own `alerts.inkLowPercent` setting wins (lowThreshold). */
  lowPercent: number;
}

/** What `config` carries of the settings: the delta and the desired version it belongs to. */
export interface SettingsDelta {
  version: number;
  settings: Record<string, SettingValue>;
}

const refuse = (message: string, field: string): never => {
  throw new ProtocolError(ErrorCode.BAD_PARAMS, message, field);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) refuse(`${field}.${k} is not a known field`, `${field}.${k}`);
}

/** Checks one setting's value against its spec. */
export function checkSetting(key: string, value: unknown, field = `settings.${key}`): SettingValue {
  const spec = SETTINGS[key];
  if (!spec) return refuse(`${key} is not a known setting (known: ${SETTING_KEYS.join(', ')})`, field);
  if (spec.type === 'boolean') {
    if (typeof value !== 'boolean') refuse(`${field} must be true or false`, field);
    return value as boolean;
  }
  if (spec.type === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return refuse(`${field} must be an integer`, field);
    if (spec.min !== undefined && value < spec.min) refuse(`${field} must be at least ${spec.min}`, field);
    if (spec.max !== undefined && value > spec.max) refuse(`${field} must be at most ${spec.max}`, field);
    return value;
  }
  if (typeof value !== 'string') return refuse(`${field} must be a string`, field);
  if (spec.maxLength !== undefined && value.length > spec.maxLength) refuse(`${field} must be at most ${spec.maxLength} characters`, field);
  if (spec.pattern && !spec.pattern.test(value)) refuse(`${field} has an invalid format`, field);
  return value;
}

/** Turns `key=value` text (the CLI's form) into a setting of the right type. */
export function settingFromText(key: string, text: string): SettingValue {
  const spec = SETTINGS[key];
  if (!spec) return refuse(`${key} is not a known setting (known: ${SETTING_KEYS.join(', ')})`, key);
  if (spec.type === 'string') return checkSetting(key, text, key);
  if (spec.type === 'boolean') return checkSetting(key, text === 'true' ? true : text === 'false' ? false : text, key);
  return checkSetting(key, /^-?\d+$/.test(text) ? Number(text) : text, key);
}

function checkSettingsPatch(v: unknown, field: string): void {
  if (!isObject(v)) return refuse(`${field} must be an object`, field);
  for (const [k, value] of Object.entries(v)) {
    if (!SETTINGS[k]) refuse(`${k} is not a known setting (known: ${SETTING_KEYS.join(', ')})`, `${field}.${k}`);
    if (value !== null) checkSetting(k, value, `${field}.${k}`);
  }
}

function checkMachine(v: unknown): void {
  if (!isObject(v)) return refuse('machine must be an object', 'machine');
  checkKeys(v, ['status', 'error', 'job'], 'machine');
  if (v.status !== undefined && !(MACHINE_STATES as readonly unknown[]).includes(v.status))
    refuse(`machine.status must be one of: ${MACHINE_STATES.join(', ')}`, 'machine.status');
  if (v.error !== undefined && v.error !== null) {
    const e = v.error;
    if (!isObject(e)) return refuse('machine.error must be an object', 'machine.error');
    checkKeys(e, ['code', 'message'], 'machine.error');
    if (typeof e.code !== 'string' || e.code.length === 0 || e.code.length > MAX_ERROR_CODE)
      refuse(`machine.error.code must be a string of 1-${MAX_ERROR_CODE} characters`, 'machine.error.code');
    if (typeof e.message !== 'string' || e.message.length > MAX_ERROR_MESSAGE)
      refuse(`machine.error.message must be a string of at most ${MAX_ERROR_MESSAGE} characters`, 'machine.error.message');
  }
  if (v.job !== undefined && v.job !== null && (typeof v.job !== 'string' || v.job.length === 0 || v.job.length > MAX_JOB_ID))
    refuse(`machine.job must be a string of 1-${MAX_JOB_ID} characters`, 'machine.job');
}

function checkNamed(v: unknown, field: string, max: number, each: (value: unknown, f: string) => void): void {
  if (!isObject(v)) return refuse(`${field} must be an object`, field);
  const names = Object.keys(v);
  if (names.length > max) refuse(`${field} has more than ${max} entries`, field);
  for (const name of names) {
    if (!STATE_NAME_PATTERN.test(name)) refuse(`${field} name ${name.slice(0, 40)} is not of the form name or group.name`, field);
    if (v[name] !== null) each(v[name], `${field}.${name}`);
  }
}

function checkConsumable(v: unknown, field: string): void {
  if (!isObject(v)) return refuse(`${field} must be an object`, field);
  checkKeys(v, ['level', 'unit'], field);
  if (typeof v.level !== 'number' || !Number.isFinite(v.level) || v.level < 0 || v.level > 100)
    refuse(`${field}.level must be a number from 0 to 100`, `${field}.level`);
  if (v.unit !== undefined && (typeof v.unit !== 'string' || v.unit.length > MAX_UNIT))
    refuse(`${field}.unit must be a string of at most ${MAX_UNIT} characters`, `${field}.unit`);
}

function checkCounter(v: unknown, field: string): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) refuse(`${field} must be a non-negative integer`, field);
}

/** Validates a reported-state merge patch; throws BAD_PARAMS naming the field, changing nothing. */
export function parseStatePatch(v: unknown): StatePatch {
  if (!isObject(v)) return refuse('state must be a JSON object', 'state');
  checkKeys(v, ['machine', 'consumables', 'counters', 'settings'], 'state');
  if (v.machine !== undefined && v.machine !== null) checkMachine(v.machine);
  if (v.consumables !== undefined && v.consumables !== null) checkNamed(v.consumables, 'consumables', MAX_CONSUMABLES, checkConsumable);
  if (v.counters !== undefined && v.counters !== null) checkNamed(v.counters, 'counters', MAX_COUNTERS, checkCounter);
  if (v.settings !== undefined && v.settings !== null) checkSettingsPatch(v.settings, 'settings');
  return v;
}

/** Validates a desired-settings patch (`{key: value | null}`); null removes a desired setting. */
export function parseSettingsPatch(v: unknown): Record<string, SettingValue | null> {
  checkSettingsPatch(v, 'settings');
  return v as Record<string, SettingValue | null>;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * RFC 7396 merge of a validated patch into `doc`, recording `at` for each second-level field that
 * changed. Returns the new document and the changed paths (empty when the patch changed nothing).
 */
export function mergeState(doc: ReportedState, patch: StatePatch, metadata: Record<string, number>, at: number): { state: ReportedState; changed: string[] } {
  const next = clone(doc) as Record<string, Record<string, unknown>>;
  const changed: string[] = [];
  for (const [section, body] of Object.entries(patch)) {
    if (body === null) {
      if (next[section] !== undefined) {
        for (const k of Object.keys(next[section]!)) changed.push(`${section}.${k}`);
        delete next[section];
      }
      continue;
    }
    const target = (next[section] ??= {});
    for (const [k, value] of Object.entries(body as Record<string, unknown>)) {
      if (value === null) {
        if (k in target) {
          delete target[k];
          changed.push(`${section}.${k}`);
        }
      } else if (JSON.stringify(target[k]) !== JSON.stringify(value)) {
        target[k] = clone(value);
        changed.push(`${section}.${k}`);
      }
    }
    if (Object.keys(target).length === 0) delete next[section];
  }
  for (const path of changed) metadata[path] = at;
  return { state: next as ReportedState, changed };
}

/** Desired settings the device has not reported as applied. */
export function settingsDelta(desired: Record<string, SettingValue>, reported: ReportedState): Record<string, SettingValue> {
  const delta: Record<string, SettingValue> = {};
  const applied = reported.settings ?? {};
  for (const [k, v] of Object.entries(desired)) if (applied[k] !== v) delta[k] = v;
  return delta;
}

const CONSUMABLE_WORDS: Record<string, string> = { 'ink.c': 'Cyan ink', 'ink.m': 'Magenta ink', 'ink.y': 'Yellow ink', 'ink.k': 'Black ink', paper: 'Paper' };

/** What people call a consumable: "Black ink" for `ink.k`; other names as they are. */
export function consumableWords(name: string): string {
  return CONSUMABLE_WORDS[name] ?? name;
}

/** The level under which a consumable counts as low: the device's own setting, else the fleet default. */
export function lowThreshold(reported: ReportedState, fleetDefault: number): number {
  const own = reported.settings?.['alerts.inkLowPercent'];
  return typeof own === 'number' ? own : fleetDefault;
}

/** Derived status (docs/architecture.md, Machine state): presence first, then the machine's own word. */
export function machineStatus(
  presence: 'online' | 'reconnecting' | 'offline',
  reported: ReportedState | null,
  lowPercent: number,
  jobRunning = false,
): MachineStatus {
  if (presence !== 'online') return presence;
  const m = reported?.machine;
  if (m?.status === 'error') return 'error';
  if (m?.status === 'maintenance') return 'maintenance';
  if (jobRunning || m?.status === 'busy' || m?.job !== undefined) return 'busy';
  const low = reported ? lowThreshold(reported, lowPercent) : lowPercent;
  for (const c of Object.values(reported?.consumables ?? {})) if (c.level < low) return 'attention';
  return 'idle';
}
