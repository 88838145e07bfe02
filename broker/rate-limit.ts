// Failed-login throttling (docs/architecture.md, Identities: lockouts). Failures count per
// (subject, address), per address and per subject; which of the three may block depends on what
// is being guessed, so that no one can lock a subject out from somewhere else:
// - a human password (REST login, agent and admin MQTT): (subject, address) and address block
//   before the password is checked, and the subject alone only at a much higher ceiling;
// - a device secret or enrollment token (random, not guessable): only (subject, address) blocks;
//   a blocked address still gets its credentials checked, and a correct one is never refused;
// - enrollment requests refused by the broker count against their token (subject only).
// A fixed window per key is enough to stop guessing; successful logins don't count.
import type { LoginBlockView as Block } from '../protocol/rest';

export interface Limits { perSubjectAddress: number; perAddress: number; perSubject: number; windowMs: number }
export const DEFAULT_LIMITS: Limits = { perSubjectAddress: 5, perAddress: 30, perSubject: 50, windowMs: 5 * 60_000 };


interface Window { start: number; count: number; subject: string | null; address: string | null }

export class LoginThrottle {
  private readonly windows = new Map<string, Window>();
  constructor(private readonly limits: Limits = DEFAULT_LIMITS) {}

  /** Milliseconds until the subject may try again from the address, or 0 when it may try now. */
  retryAfterMs(subject: string, address: string, now: number, scope: { address: boolean; subject: boolean }): number {
    let wait = this.blockedFor(pairKey(subject, address), this.limits.perSubjectAddress, now);
    if (scope.address) wait = Math.max(wait, this.blockedFor(addressKey(address), this.limits.perAddress, now));
    if (scope.subject) wait = Math.max(wait, this.blockedFor(subjectKey(subject), this.limits.perSubject, now));
    return wait;
  }

  fail(subject: string, address: string, now: number): void {
    this.count(pairKey(subject, address), subject, address, now);
    this.count(addressKey(address), null, address, now);
    this.count(subjectKey(subject), subject, null, now);
    if (this.windows.size > 100_000) this.prune(now);
  }

  /** A failure that belongs to no address (a refused enrollment counts against its token). */
  failSubject(subject: string, now: number): void {
    this.count(subjectKey(subject), subject, null, now);
  }

  subjectBlockedFor(subject: string, now: number): number {
    return this.blockedFor(subjectKey(subject), this.limits.perSubject, now);
  }

  /** Keys at or over their limit now, for admins. */
  blocks(now: number): Block[] {
    const out: Block[] = [];
    for (const [key, w] of this.windows) {
      const wait = this.blockedFor(key, this.limitOf(key), now);
      if (wait > 0) out.push({ subject: w.subject, address: w.address, failures: w.count, retryAfterMs: wait });
    }
    return out;
  }

  /** Forgets the failures of a subject (everywhere), of an address (for everyone), or of the pair; returns how many keys. */
  clear(match: { subject?: string; address?: string }): number {
    let n = 0;
    for (const [key, w] of this.windows) {
      const subjectOk = match.subject === undefined || w.subject === match.subject;
      const addressOk = match.address === undefined || w.address === match.address;
      if (subjectOk && addressOk) {
        this.windows.delete(key);
        n++;
      }
    }
    return n;
  }

  private limitOf(key: string): number {
    if (key.startsWith('p\n')) return this.limits.perSubjectAddress;
    return key.startsWith('a\n') ? this.limits.perAddress : this.limits.perSubject;
  }

  private blockedFor(key: string, max: number, now: number): number {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.limits.windowMs) return 0;
    return w.count >= max ? w.start + this.limits.windowMs - now : 0;
  }

  private count(key: string, subject: string | null, address: string | null, now: number): void {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.limits.windowMs) this.windows.set(key, { start: now, count: 1, subject, address });
    else w.count++;
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.limits.windowMs) this.windows.delete(k);
  }
}

const pairKey = (subject: string, address: string): string => `p\n${subject}\n${address}`;
const addressKey = (address: string): string => `a\n${address}`;
const subjectKey = (subject: string): string => `s\n${subject}`;
