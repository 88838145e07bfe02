// Failed-login throttling (docs/architecture.md, Identities: lockouts). Failures count per
// (subject, address), per address and per subject; which of the three may block depends on what
// is being guessed, so that no one can lock a subject out from somewhere else:
// - a human password (REST login, agent and admin MQTT): (subject, address) and address block
//   before the password is checked, and the subject alone only at a much higher ceiling;
// - a device secret or enrollment token (random, not guessable): only (subject, address) blocks;
//   a blocked address still gets its credentials checked, and a correct one is never refused;
// - enrollment requests refused by the broker count against their token (subject only).
// A fixed window per key is enough to stop guessing; successful logins don't count. In a cluster
// the windows live on Redis (cluster/login-windows.ts), so failures on one node block on every
// node; while Redis is unreachable each node counts on its own.
import type { LoginBlockView as Block } from '../protocol/rest';
import type { Logger } from './logger';

export interface Limits {
  perSubjectAddress: number;
  perAddress: number;
  perSubject: number;
  windowMs: number;
}
export const DEFAULT_LIMITS: Limits = { perSubjectAddress: 5, perAddress: 30, perSubject: 50, windowMs: 5 * 60_000 };

/** One key's failures: since when (the window's start) and how many, and whom they name. */
export interface Window {
  start: number;
  count: number;
  subject: string | null;
  address: string | null;
}
export interface Failure {
  key: string;
  subject: string | null;
  address: string | null;
}

/** Where the windows are kept: this node's memory, or Redis for the whole cluster. */
export interface FailureWindows {
  count(failures: Failure[], now: number, windowMs: number): Promise<void>;
  /** The windows of these keys, in order; null where a key has none. */
  read(keys: string[]): Promise<Array<Window | null>>;
  all(): Promise<Array<[string, Window]>>;
  /** Deletes the windows that match; returns how many. */
  clear(match: { subject?: string; address?: string }): Promise<number>;
}

const PRUNE_AT = 100_000;

export class LocalWindows implements FailureWindows {
  private readonly windows = new Map<string, Window>();

  async count(failures: Failure[], now: number, windowMs: number): Promise<void> {
    for (const f of failures) {
      const w = this.windows.get(f.key);
      if (!w || now - w.start >= windowMs) this.windows.set(f.key, { start: now, count: 1, subject: f.subject, address: f.address });
      else w.count++;
    }
    if (this.windows.size > PRUNE_AT) for (const [k, w] of this.windows) if (now - w.start >= windowMs) this.windows.delete(k);
  }

  async read(keys: string[]): Promise<Array<Window | null>> {
    return keys.map((k) => this.windows.get(k) ?? null);
  }

  async all(): Promise<Array<[string, Window]>> {
    return [...this.windows];
  }

  async clear(match: { subject?: string; address?: string }): Promise<number> {
    let n = 0;
    for (const [key, w] of this.windows) {
      if (matches(w, match)) {
        this.windows.delete(key);
        n++;
      }
    }
    return n;
  }
}

export function matches(w: Pick<Window, 'subject' | 'address'>, match: { subject?: string; address?: string }): boolean {
  return (match.subject === undefined || w.subject === match.subject) && (match.address === undefined || w.address === match.address);
}

export class LoginThrottle {
  private readonly local = new LocalWindows();

  constructor(
    private readonly shared: FailureWindows | null = null,
    private readonly log: Logger | null = null,
    private readonly limits: Limits = DEFAULT_LIMITS,
  ) {}

  /** Milliseconds until the subject may try again from the address, or 0 when it may try now. */
  async retryAfterMs(subject: string, address: string, now: number, scope: { address: boolean; subject: boolean }): Promise<number> {
    const keys = [pairKey(subject, address), ...(scope.address ? [addressKey(address)] : []), ...(scope.subject ? [subjectKey(subject)] : [])];
    const windows = await this.use((w) => w.read(keys));
    return Math.max(0, ...keys.map((k, i) => this.blockedFor(k, windows[i] ?? null, now)));
  }

  fail(subject: string, address: string, now: number): Promise<void> {
    const failures = [
      { key: pairKey(subject, address), subject, address },
      { key: addressKey(address), subject: null, address },
      { key: subjectKey(subject), subject, address: null },
    ];
    return this.use((w) => w.count(failures, now, this.limits.windowMs));
  }

  /** A failure that belongs to no address (a refused enrollment counts against its token). */
  failSubject(subject: string, now: number): Promise<void> {
    return this.use((w) => w.count([{ key: subjectKey(subject), subject, address: null }], now, this.limits.windowMs));
  }

  async subjectBlockedFor(subject: string, now: number): Promise<number> {
    const key = subjectKey(subject);
    const [w] = await this.use((s) => s.read([key]));
    return this.blockedFor(key, w ?? null, now);
  }

  /** Keys at or over their limit now, for admins. */
  async blocks(now: number): Promise<Block[]> {
    const out: Block[] = [];
    for (const [key, w] of await this.use((s) => s.all())) {
      const wait = this.blockedFor(key, w, now);
      if (wait > 0) out.push({ subject: w.subject, address: w.address, failures: w.count, retryAfterMs: wait });
    }
    return out;
  }

  /** Forgets the failures of a subject (everywhere), of an address (for everyone), or of the pair; returns how many keys. */
  async clear(match: { subject?: string; address?: string }): Promise<number> {
    // A node's own windows hold what it counted while Redis was away: clear those too.
    const localCleared = this.shared ? await this.local.clear(match) : 0;
    return localCleared + (await this.use((w) => w.clear(match)));
  }

  /** The shared windows, or this node's when there are none or Redis is unreachable. */
  private async use<T>(fn: (w: FailureWindows) => Promise<T>): Promise<T> {
    if (this.shared) {
      try {
        return await fn(this.shared);
      } catch (err) {
        this.log?.debug({ err: (err as Error).message }, 'shared login windows unavailable; counting on this node');
      }
    }
    return fn(this.local);
  }

  private limitOf(key: string): number {
    if (key.startsWith('p\n')) return this.limits.perSubjectAddress;
    return key.startsWith('a\n') ? this.limits.perAddress : this.limits.perSubject;
  }

  private blockedFor(key: string, w: Window | null, now: number): number {
    if (!w || now - w.start >= this.limits.windowMs) return 0;
    return w.count >= this.limitOf(key) ? w.start + this.limits.windowMs - now : 0;
  }
}

const pairKey = (subject: string, address: string): string => `p\n${subject}\n${address}`;
const addressKey = (address: string): string => `a\n${address}`;
const subjectKey = (subject: string): string => `s\n${subject}`;
