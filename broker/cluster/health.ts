// Health of what a node depends on (PostgreSQL, Redis, an up-to-date binding map). While any of
// it is down the node refuses changes (claims, releases, transfers, submits) with UNAVAILABLE
// instead of answering wrongly, and it recovers by itself: each check is probed again every
// second.
import { EventEmitter } from 'node:events';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { Logger } from '../logger';

export interface CheckState {
  ok: boolean;
  since: number;
  error?: string;
}

export interface HealthEvents {
  change: [name: string, state: CheckState];
}

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class Health extends EventEmitter<HealthEvents> {
  private readonly states = new Map<string, CheckState>();
  private readonly probes = new Map<string, () => Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private probing = false;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /** A dependency probed every interval; a probe that throws or hangs marks it down. */
  addProbe(name: string, probe: () => Promise<void>): void {
    this.probes.set(name, probe);
    this.states.set(name, { ok: true, since: this.now() });
  }

  set(name: string, ok: boolean, error?: string): void {
    const cur = this.states.get(name);
    if (cur && cur.ok === ok && (ok || cur.error === error)) return;
    const state: CheckState = ok ? { ok, since: this.now() } : { ok, since: cur && !cur.ok ? cur.since : this.now(), ...(error ? { error } : {}) };
    this.states.set(name, state);
    if (!cur || cur.ok !== ok) {
      if (ok) this.log.info({ check: name }, `${name} is available again`);
      else this.log.error({ check: name, error }, `${name} is unavailable`);
    }
    this.emit('change', name, state);
  }

  isOk(name?: string): boolean {
    if (name !== undefined) return this.states.get(name)?.ok ?? false;
    for (const s of this.states.values()) if (!s.ok) return false;
    return true;
  }

  /** Why changes are refused right now, or null when everything is up. */
  problem(): string | null {
    const down = [...this.states].filter(([, s]) => !s.ok);
    if (down.length === 0) return null;
    return down.map(([name, s]) => `${name} is unavailable${s.error ? ` (${s.error})` : ''}`).join('; ');
  }

  /** Throws UNAVAILABLE, naming what is down, unless every dependency is up. */
  assertAvailable(action: string): void {
    const problem = this.problem();
    if (problem !== null) throw new ProtocolError(ErrorCode.UNAVAILABLE, `cannot ${action} now: ${problem}. Nothing was changed; try again shortly.`);
  }

  report(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, s] of this.states) out[name] = s.ok ? 'ok' : `down since ${new Date(s.since).toISOString()}${s.error ? `: ${s.error}` : ''}`;
    return out;
  }

  async probeNow(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await Promise.all(
        [...this.probes].map(([name, probe]) =>
          withTimeout(probe(), PROBE_TIMEOUT_MS, name).then(
            () => this.set(name, true),
            (err: unknown) => this.set(name, false, err instanceof Error ? err.message : String(err)),
          ),
        ),
      );
    } finally {
      this.probing = false;
    }
  }

  start(intervalMs = 1_000): void {
    this.timer = setInterval(() => void this.probeNow(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
