// Failed-login throttling per key (username, IP). A fixed window per key is enough to stop
// guessing; successful logins don't count.
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until the key may try again, or 0 when it may try now. */
  blockedFor(key: string, now: number): number {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) return 0;
    return w.count >= this.max ? w.start + this.windowMs - now : 0;
  }

  fail(key: string, now: number): void {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) this.windows.set(key, { start: now, count: 1 });
    else w.count++;
    if (this.windows.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}

export class LoginThrottle {
  private readonly byUser: FailureLimiter;
  private readonly byIp: FailureLimiter;
  constructor(perUser = 5, perIp = 30, windowMs = 5 * 60_000) {
    this.byUser = new FailureLimiter(perUser, windowMs);
    this.byIp = new FailureLimiter(perIp, windowMs);
  }
  retryAfterMs(user: string, ip: string, now: number): number {
    return Math.max(this.byUser.blockedFor(user, now), this.byIp.blockedFor(ip, now));
  }
  fail(user: string, ip: string, now: number): void {
    this.byUser.fail(user, now);
    this.byIp.fail(ip, now);
  }
}
