// Reads the attached machine's status over the serial exchange (docs/architecture.md, Machine
// state) and turns it into reported-state changes. The machine answers `STATUS\n` with one JSON
// line: {status, job?, error?: {code, message}, ink?: {c, m, y, k}, paper?, prints?}. The
// simulator's printer speaks the same (host-tools/simulate/sim-printer.ts).
import { MACHINE_STATES, type StatePatch } from '../../protocol/machine-state';
import { errorSummary } from './error-summary';
import type { Platform, TimerHandle } from './platform';

export const STATUS_REQUEST = 'STATUS\n';
const NEWLINE = 10;
const REPLY_TIMEOUT_MS = 1_000;

function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function textOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

const level = (v: unknown): { level: number } | undefined => (typeof v === 'number' && v >= 0 && v <= 100 ? { level: Math.round(v * 10) / 10 } : undefined);

/** The machine's status line as a reported-state patch; throws on anything else. */
export function statusPatch(line: string): StatePatch {
  const o = JSON.parse(line) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || !(MACHINE_STATES as readonly unknown[]).includes(o.status)) throw new Error('status line without a known status');
  const err = o.error as { code?: unknown; message?: unknown } | undefined;
  const machine: Record<string, unknown> = {
    status: o.status,
    job: typeof o.job === 'string' && o.job.length > 0 ? o.job.slice(0, 64) : null,
    error:
      err && typeof err.code === 'string' ? { code: err.code.slice(0, 32), message: typeof err.message === 'string' ? err.message.slice(0, 200) : '' } : null,
  };
  const consumables: Record<string, { level: number }> = {};
  const ink = (o.ink ?? {}) as Record<string, unknown>;
  for (const c of ['c', 'm', 'y', 'k']) {
    const l = level(ink[c]);
    if (l) consumables[`ink.${c}`] = l;
  }
  const paper = level(o.paper);
  if (paper) consumables.paper = paper;
  const patch: StatePatch = { machine, consumables };
  if (typeof o.prints === 'number' && Number.isSafeInteger(o.prints) && o.prints >= 0) patch.counters = { prints: o.prints };
  return patch;
}

export interface MachineLinkHooks {
  /** True while something else (a serial.send job) has the port. */
  busy(): boolean;
  status(patch: StatePatch): void;
}

export class MachineLink {
  private timer: TimerHandle | null = null;
  private exchange: { abort(): void } | null = null;
  private lastProblem: string | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly pollMs: number,
    private readonly hooks: MachineLinkHooks,
  ) {}

  start(): void {
    if (this.timer === null) this.schedule(0);
  }

  stop(): void {
    if (this.timer !== null) this.platform.clearTimer(this.timer);
    this.timer = null;
    this.exchange?.abort();
    this.exchange = null;
  }

  private schedule(ms: number): void {
    this.timer = this.platform.setTimer(ms, () => {
      this.timer = null;
      this.poll();
    });
  }

  private poll(): void {
    const serial = this.platform.serial;
    if (serial === undefined || this.hooks.busy()) return this.schedule(this.pollMs);
    this.exchange = serial.send({ data: bytesOf(STATUS_REQUEST), timeoutMs: REPLY_TIMEOUT_MS, expect: bytesOf('\n') }, (r) => {
      this.exchange = null;
      this.schedule(this.pollMs);
      if (!r.ok) return this.problem(`serial: ${r.error}`);
      const last = r.data[r.data.length - 1] === NEWLINE ? r.data.subarray(0, r.data.length - 1) : r.data;
      let patch: StatePatch;
      try {
        patch = statusPatch(textOf(last));
      } catch (e) {
        return this.problem(`unreadable status: ${errorSummary(e)}`);
      }
      if (this.lastProblem !== null) this.platform.log('info', 'machine status readable again', {});
      this.lastProblem = null;
      this.hooks.status(patch);
    });
  }

  /** Logged when it changes, not on every poll. */
  private problem(text: string): void {
    if (text !== this.lastProblem) this.platform.log('warn', 'cannot read the machine status', { problem: text.slice(0, 120) });
    this.lastProblem = text;
  }
}
