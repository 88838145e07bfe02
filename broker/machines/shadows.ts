// The broker's side of machine state (docs/architecture.md, Machine state): reported-state patches
// from devices and desired settings from admins and agents are merged into one versioned shadow,
// stored, and republished retained on `d/<dev>/shadow`; the settings delta goes to the device in
// `config`. One device's changes run one after another on this node, and each write is a
// compare-and-set on the version, so a change made meanwhile on another node is re-read, never lost.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import {
  SETTINGS,
  SETTING_KEYS,
  type ReportedState,
  type SettingValue,
  type SettingsDelta,
  type Shadow,
  type StatePatch,
  mergeState,
  parseSettingsPatch,
  parseStatePatch,
  settingsDelta,
} from '../../protocol/machine-state';
import { deviceTopic } from '../../protocol/topics';
import { parseJson } from '../../protocol/validate';
import type { Context } from '../context';
import { publishConfig, publishJson } from '../publisher';
import { appendAudit } from '../store/audit';
import { getDevice } from '../store/devices';
import type { MachineShadowRow } from '../store/schema';
import { WarnLimiter } from '../warn-limit';
import { type Sample, insertSamples, loadShadow, loadShadows, storeShadow } from './store';

interface Entry {
  row: MachineShadowRow;
  reported: ReportedState;
  desired: Record<string, SettingValue>;
  metadata: Record<string, number>;
  agentEditable: string[];
}

/** Why a state report was refused; the label set of `fleetbind_state_refusals_total`. */
export type StateRefusal = 'json' | 'schema' | 'rate';

/** Told after each accepted report, with the state before and after (alerts use it). */
export type ReportListener = (device: string, before: ReportedState, after: ReportedState) => void;

const CAS_ATTEMPTS = 5;

function entryOf(row: MachineShadowRow): Entry {
  return {
    row,
    reported: JSON.parse(row.reported) as ReportedState,
    desired: JSON.parse(row.desired) as Record<string, SettingValue>,
    metadata: JSON.parse(row.metadata) as Record<string, number>,
    agentEditable: JSON.parse(row.agent_editable) as string[],
  };
}

const emptyRow = (device: string, at: number): MachineShadowRow => ({ device, version: 0, desired_version: 0, reported: '{}', desired: '{}', metadata: '{}', agent_editable: '[]', updated_at: at });

export function shadowView(e: Entry): Shadow {
  return {
    device: e.row.device,
    version: Number(e.row.version),
    desiredVersion: Number(e.row.desired_version),
    reported: e.reported,
    desired: e.desired,
    delta: settingsDelta(e.desired, e.reported),
    metadata: e.metadata,
    updatedAt: Number(e.row.updated_at),
  };
}

export interface DesiredChange {
  /** `{key: value}`; null removes a desired setting. */
  settings: unknown;
  /** The desired version the caller last saw; a change made since is refused with CONFLICT. */
  version?: number;
  /** Admins only: which settings the bound agent may change from now on. */
  agentEditable?: unknown;
}

export class MachineShadows {
  private readonly cache = new Map<string, Entry>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly lastSample = new Map<string, number>();
  private readonly warnings = new WarnLimiter();
  private readonly listeners: ReportListener[] = [];

  constructor(private readonly ctx: Context) {}

  onReport(l: ReportListener): void {
    this.listeners.push(l);
  }

  /** A device's `state` publish. Bad input is refused, counted and logged; it changes nothing. */
  report(device: string, payload: Buffer): Promise<void> {
    if (!this.take(device)) return this.refuse(device, 'rate', 'more state reports than the device may send');
    let patch: StatePatch;
    try {
      patch = parseStatePatch(parseJson(payload.toString('utf8')));
    } catch (err) {
      const e = err as ProtocolError;
      return this.refuse(device, e.message === 'payload is not valid JSON' ? 'json' : 'schema', e.message, e.field);
    }
    return this.serial(device, () => this.applyReport(device, patch));
  }

  /** The shadow as agents see it, or null when the device never reported nor was given settings. */
  async shadow(device: string): Promise<Shadow | null> {
    const e = await this.entry(device, false);
    return e.row.version === 0 ? null : shadowView(e);
  }

  /** Shadows of many devices, one query for those not cached. */
  async shadows(devices: string[]): Promise<Map<string, Shadow>> {
    const out = new Map<string, Shadow>();
    const missing = devices.filter((d) => !this.cache.has(d));
    for (const row of await loadShadows(this.ctx.db, missing)) this.cache.set(row.device, entryOf(row));
    for (const d of devices) {
      const e = this.cache.get(d);
      if (e && e.row.version !== 0) out.set(d, shadowView(e));
    }
    return out;
  }

  /** What `config` carries: the settings the device has yet to apply, with their desired version. */
  async deltaFor(device: string): Promise<SettingsDelta | undefined> {
    const e = await this.entry(device, false);
    if (e.row.desired_version === 0) return undefined;
    return { version: Number(e.row.desired_version), settings: settingsDelta(e.desired, e.reported) };
  }

  /**
   * Desired settings from an admin, or from the bound agent for the settings the admin made
   * agent-editable. The device is sent the new delta in `config` at once, or at its next hello.
   */
  async setDesired(device: string, who: { kind: 'agent' | 'admin'; id: string }, change: DesiredChange): Promise<Shadow> {
    const row = await getDevice(this.ctx.db, device);
    if (!row || (who.kind === 'agent' && this.ctx.bindings.agentOf(device) !== who.id)) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${device}`, 'device');
    const patch = parseSettingsPatch(change.settings);
    const editable = change.agentEditable === undefined ? undefined : editableKeys(change.agentEditable);
    if (who.kind === 'agent' && editable !== undefined) throw new ProtocolError(ErrorCode.FORBIDDEN, 'only an admin decides which settings agents may change', 'agentEditable');
    const view = await this.serial(device, async () => {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const cur = await this.entry(device, true);
        if (change.version !== undefined && change.version !== Number(cur.row.desired_version)) {
          throw new ProtocolError(ErrorCode.CONFLICT, `the desired settings are at version ${cur.row.desired_version}, not ${change.version}; read them again`, 'version');
        }
        if (who.kind === 'agent') {
          const refused = Object.keys(patch).filter((k) => !cur.agentEditable.includes(k));
          if (refused.length > 0) throw new ProtocolError(ErrorCode.FORBIDDEN, `an admin has not made ${refused.join(', ')} agent-editable`, `settings.${refused[0]}`);
        }
        const at = this.ctx.now();
        const desired = { ...cur.desired };
        const metadata = { ...cur.metadata };
        for (const [k, v] of Object.entries(patch)) {
          if (v === null) delete desired[k];
          else desired[k] = v;
          metadata[`desired.${k}`] = at;
        }
        const next: MachineShadowRow = {
          ...cur.row,
          version: Number(cur.row.version) + 1,
          desired_version: Number(cur.row.desired_version) + 1,
          desired: JSON.stringify(desired),
          metadata: JSON.stringify(metadata),
          agent_editable: editable === undefined ? cur.row.agent_editable : JSON.stringify(editable),
          updated_at: at,
        };
        const stored = await this.ctx.writer.write(async (trx) => {
          if (!(await storeShadow(trx, next, Number(cur.row.version)))) return false;
          await appendAudit(trx, { at, actor: `${who.kind}:${who.id}`, action: 'settings.desired', device, detail: { settings: patch, version: next.desired_version, ...(editable ? { agentEditable: editable } : {}) } });
          return true;
        });
        if (!stored) continue;
        const e = entryOf(next);
        this.cache.set(device, e);
        return shadowView(e);
      }
      throw new ProtocolError(ErrorCode.CONFLICT, 'the shadow kept changing; try again', 'version');
    });
    await this.publish(view);
    await publishConfig(this.ctx, device);
    return view;
  }

  /** Forgets what this node cached of a device (deleted, or its state changed elsewhere). */
  forget(device: string): void {
    this.cache.delete(device);
    this.buckets.delete(device);
    this.lastSample.delete(device);
  }

  private async applyReport(device: string, patch: StatePatch): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      // After a lost compare-and-set the cached copy is stale: read the stored one.
      const cur = await this.entry(device, attempt > 0);
      const at = this.ctx.now();
      const metadata = { ...cur.metadata };
      const { state, changed } = mergeState(cur.reported, patch, metadata, at);
      if (changed.length === 0) return;
      const next: MachineShadowRow = { ...cur.row, version: Number(cur.row.version) + 1, reported: JSON.stringify(state), metadata: JSON.stringify(metadata), updated_at: at };
      const samples = this.samples(device, state, changed, at);
      const stored = await this.ctx.writer.write(async (trx) => {
        if (!(await storeShadow(trx, next, Number(cur.row.version)))) return false;
        await insertSamples(trx, samples);
        return true;
      });
      if (!stored) continue;
      if (samples.length > 0) this.lastSample.set(device, at);
      const e = entryOf(next);
      this.cache.set(device, e);
      this.ctx.metrics.stateReports.inc();
      await this.publish(shadowView(e));
      for (const l of this.listeners) l(device, cur.reported, state);
      return;
    }
    this.ctx.log.warn({ device }, 'state report dropped: the shadow kept changing under it');
  }

  /** Consumables and counters, at most once per sample interval per device, and only when one of them changed. */
  private samples(device: string, state: ReportedState, changed: string[], at: number): Sample[] {
    if (!changed.some((p) => p.startsWith('consumables.') || p.startsWith('counters.'))) return [];
    const last = this.lastSample.get(device);
    if (last !== undefined && at - last < this.ctx.opts.machines.historySampleMs) return [];
    const out: Sample[] = [];
    for (const [name, c] of Object.entries(state.consumables ?? {})) out.push({ device, field: `consumables.${name}`, at, value: c.level });
    for (const [name, n] of Object.entries(state.counters ?? {})) out.push({ device, field: `counters.${name}`, at, value: n });
    return out;
  }

  private publish(view: Shadow): Promise<void> {
    return publishJson(this.ctx, deviceTopic(view.device, 'shadow'), view, true);
  }

  private async entry(device: string, fresh: boolean): Promise<Entry> {
    const cached = fresh ? undefined : this.cache.get(device);
    if (cached) return cached;
    const row = await loadShadow(this.ctx.db, device);
    const e = entryOf(row ?? emptyRow(device, this.ctx.now()));
    this.cache.set(device, e);
    return e;
  }

  /** Runs one device's changes one after another. */
  private serial<T>(device: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(device) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(device, tail);
    void tail.then(() => {
      if (this.chains.get(device) === tail) this.chains.delete(device);
    });
    return run;
  }

  /** A token bucket per device: a flood of reports is refused before it is parsed. */
  private take(device: string): boolean {
    const { stateRate, stateBurst } = this.ctx.opts.machines;
    const now = this.ctx.now();
    const b = this.buckets.get(device) ?? { tokens: stateBurst, at: now };
    b.tokens = Math.min(stateBurst, b.tokens + ((now - b.at) / 1000) * stateRate);
    b.at = now;
    this.buckets.set(device, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private refuse(device: string, reason: StateRefusal, message: string, field?: string): Promise<void> {
    this.ctx.metrics.stateRefusals.inc({ reason });
    const w = this.warnings.take(device, this.ctx.now());
    if (w) this.ctx.log.warn({ device, reason, field, error: message.slice(0, 200), suppressed: w.suppressed }, 'state report refused');
    return Promise.resolve();
  }
}

function editableKeys(v: unknown): string[] {
  if (!Array.isArray(v) || v.some((k) => typeof k !== 'string' || !SETTINGS[k])) throw new ProtocolError(ErrorCode.BAD_PARAMS, `agentEditable must be an array of setting names (known: ${SETTING_KEYS.join(', ')})`, 'agentEditable');
  return [...new Set(v as string[])];
}
