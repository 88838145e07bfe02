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
import type { Transaction } from 'kysely';
import type { Database, MachineShadowRow } from '../store/schema';
import { WarnLimiter } from '../warn-limit';
import { ShadowWrites } from './shadow-writes';
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
const SHADOWS_TOPIC = '$SYS/fleetbind/shadows';

function entryOf(row: MachineShadowRow): Entry {
  return {
    row,
    reported: JSON.parse(row.reported) as ReportedState,
    desired: JSON.parse(row.desired) as Record<string, SettingValue>,
    metadata: JSON.parse(row.metadata) as Record<string, number>,
    agentEditable: JSON.parse(row.agent_editable) as string[],
  };
}

const emptyRow = (device: string, at: number): MachineShadowRow => ({
  device,
  version: 0,
  desired_version: 0,
  reported: '{}',
  desired: '{}',
  metadata: '{}',
  agent_editable: '[]',
  updated_at: at,
});

export function shadowView(e: Entry, lowPercent: number): Shadow {
  return {
    device: e.row.device,
    version: Number(e.row.version),
    desiredVersion: Number(e.row.desired_version),
    reported: e.reported,
    desired: e.desired,
    delta: settingsDelta(e.desired, e.reported),
    metadata: e.metadata,
    updatedAt: Number(e.row.updated_at),
    lowPercent,
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
  /**
   * Devices the registry had no shadow for when many were read at once. Each metrics scrape reads
   * every device's shadow, and most devices never report state: asking for them again each time
   * was a 10,000-id query, 9 ms of a 35-47 ms scrape at 10,000 devices. Any write drops the mark.
   */
  private readonly absent = new Set<string>();
  /** Shadow changes seen (here or told by another node): a read that overlapped one marks nothing absent. */
  private changes = 0;
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly lastSample = new Map<string, number>();
  /** Reports not yet taken up by a write, per device, oldest first. */
  private readonly waiting = new Map<string, StatePatch[]>();
  private readonly warnings = new WarnLimiter();
  private readonly listeners: ReportListener[] = [];

  /** Tells the other nodes a device's shadow changed, so they drop their cached copy; null on one node. */
  private tellNodes: ((msg: { d: string; v: number }) => void) | null = null;

  private readonly batch: ShadowWrites;

  constructor(private readonly ctx: Context) {
    this.batch = new ShadowWrites(ctx.writer);
  }

  async start(): Promise<void> {
    this.tellNodes =
      (await this.ctx.backends.channel<{ d: string; v: number }>(SHADOWS_TOPIC, 'shadow change', ({ d, v }) => {
        this.changes++;
        this.absent.delete(d);
        const cached = this.cache.get(d);
        if (cached && Number(cached.row.version) < v) this.cache.delete(d);
      })) ?? null;
  }

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
    // Reports that arrive while the device's previous change is still being written are merged
    // into one write and one shadow: under load the broker does less work, not more.
    const waiting = this.waiting.get(device);
    if (waiting) {
      waiting.push(patch);
      return Promise.resolve();
    }
    this.waiting.set(device, [patch]);
    return this.serial(device, () => {
      const patches = this.waiting.get(device) ?? [];
      this.waiting.delete(device);
      return this.applyReport(device, patches);
    });
  }

  /** The shadow as agents see it, or null when the device never reported nor was given settings. */
  async shadow(device: string): Promise<Shadow | null> {
    const e = await this.entry(device, false);
    return e.row.version === 0 ? null : shadowView(e, this.ctx.opts.machines.lowPercent);
  }

  /** Shadows of many devices, one query for those not cached. */
  async shadows(devices: string[]): Promise<Map<string, Shadow>> {
    const out = new Map<string, Shadow>();
    const missing = devices.filter((d) => !this.cache.has(d) && !this.absent.has(d));
    const changes = this.changes;
    const rows = await loadShadows(this.ctx.db, missing);
    for (const row of rows) this.cache.set(row.device, entryOf(row));
    if (rows.length < missing.length && changes === this.changes) {
      const found = new Set(rows.map((r) => r.device));
      for (const d of missing) if (!found.has(d)) this.absent.add(d);
    }
    for (const d of devices) {
      const e = this.cache.get(d);
      if (e && e.row.version !== 0) out.set(d, shadowView(e, this.ctx.opts.machines.lowPercent));
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
    if (!row || (who.kind === 'agent' && this.ctx.bindings.agentOf(device) !== who.id))
      throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${device}`, 'device');
    const patch = parseSettingsPatch(change.settings);
    const editable = change.agentEditable === undefined ? undefined : editableKeys(change.agentEditable);
    if (who.kind === 'agent' && editable !== undefined)
      throw new ProtocolError(ErrorCode.FORBIDDEN, 'only an admin decides which settings agents may change', 'agentEditable');
    const view = await this.serial(device, async () => {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const stored = await this.ctx.writer.write(async (trx) => {
          // Read under the row lock in the writing transaction: a report handled meanwhile on
          // another node waits for it instead of failing the compare-and-set again and again.
          const cur = await this.locked(trx, device);
          if (change.version !== undefined && change.version !== Number(cur.row.desired_version)) {
            throw new ProtocolError(
              ErrorCode.CONFLICT,
              `the desired settings are at version ${cur.row.desired_version}, not ${change.version}; read them again`,
              'version',
            );
          }
          if (who.kind === 'agent') {
            const refused = Object.keys(patch).filter((k) => !cur.agentEditable.includes(k));
            if (refused.length > 0)
              throw new ProtocolError(ErrorCode.FORBIDDEN, `an admin has not made ${refused.join(', ')} agent-editable`, `settings.${refused[0]}`);
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
          if (!(await storeShadow(trx, next, Number(cur.row.version)))) return null;
          await appendAudit(trx, {
            at,
            actor: `${who.kind}:${who.id}`,
            action: 'settings.desired',
            device,
            detail: { settings: patch, version: next.desired_version, ...(editable ? { agentEditable: editable } : {}) },
          });
          return next;
        });
        if (!stored) continue;
        return shadowView(this.stored(stored), this.ctx.opts.machines.lowPercent);
      }
      throw new ProtocolError(ErrorCode.CONFLICT, 'the shadow kept changing; try again', 'version');
    });
    await this.publish(view);
    await publishConfig(this.ctx, device);
    return view;
  }

  /** Forgets what this node cached of a device (deleted, or its state changed elsewhere). */
  forget(device: string): void {
    this.changes++;
    this.cache.delete(device);
    this.absent.delete(device);
    this.buckets.delete(device);
    this.waiting.delete(device);
    this.lastSample.delete(device);
  }

  private async applyReport(device: string, patches: StatePatch[]): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      // The cached copy first; after a lost compare-and-set (another node changed the shadow),
      // the stored one, read under the row lock in the writing transaction.
      const cached = attempt === 0 ? await this.entry(device, false) : null;
      let done: { cur: Entry; next: MachineShadowRow | null; samples: Sample[] } | null;
      if (cached) {
        const m = this.merged(device, cached, patches);
        if (m === null) return;
        done = (await this.batch.write(m.next, m.samples)) ? { cur: cached, ...m } : null;
      } else {
        done = await this.ctx.writer.write(async (trx) => {
          const cur = await this.locked(trx, device);
          const m = this.merged(device, cur, patches);
          if (m === null) return { cur, next: null, samples: [] };
          if (!(await storeShadow(trx, m.next, Number(cur.row.version)))) return null;
          await insertSamples(trx, m.samples);
          return { cur, ...m };
        });
      }
      if (!done) continue;
      if (!done.next) return;
      if (done.samples.length > 0) this.lastSample.set(device, Number(done.next.updated_at));
      const e = this.stored(done.next);
      this.ctx.metrics.stateReports.inc(patches.length);
      this.ctx.metrics.shadowWrites.inc();
      await this.publish(shadowView(e, this.ctx.opts.machines.lowPercent));
      for (const l of this.listeners) l(device, done.cur.reported, e.reported);
      return;
    }
    this.ctx.log.warn({ device }, 'state report dropped: the shadow kept changing under it');
  }

  /** The row the patches, in order, make of `cur`, with the history samples it takes; null when they change nothing. */
  private merged(device: string, cur: Entry, patches: StatePatch[]): { next: MachineShadowRow; samples: Sample[] } | null {
    const at = this.ctx.now();
    const metadata = { ...cur.metadata };
    let state = cur.reported;
    const changed = new Set<string>();
    for (const patch of patches) {
      const m = mergeState(state, patch, metadata, at);
      state = m.state;
      for (const c of m.changed) changed.add(c);
    }
    if (changed.size === 0) return null;
    return {
      next: { ...cur.row, version: Number(cur.row.version) + 1, reported: JSON.stringify(state), metadata: JSON.stringify(metadata), updated_at: at },
      samples: this.samples(device, state, [...changed], at),
    };
  }

  /** The stored shadow, locked until `trx` ends when other nodes may write it. */
  private async locked(trx: Transaction<Database>, device: string): Promise<Entry> {
    const row = await loadShadow(trx, device, this.ctx.backends.sharedRegistry);
    return entryOf(row ?? emptyRow(device, this.ctx.now()));
  }

  /** A committed row: cached here, and every other node told to drop its copy. */
  private stored(row: MachineShadowRow): Entry {
    const e = entryOf(row);
    this.changes++;
    this.cache.set(row.device, e);
    this.absent.delete(row.device);
    this.tellNodes?.({ d: row.device, v: Number(row.version) });
    return e;
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
  if (!Array.isArray(v) || v.some((k) => typeof k !== 'string' || !SETTINGS[k]))
    throw new ProtocolError(ErrorCode.BAD_PARAMS, `agentEditable must be an array of setting names (known: ${SETTING_KEYS.join(', ')})`, 'agentEditable');
  return [...new Set(v as string[])];
}
