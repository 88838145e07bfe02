// Refused connects and logins are logged, but an unauthenticated client must not be able to fill
// the log: warnings are limited per source and in total per second, and the next warning that
// gets through says how many were left out.
export class WarnLimiter {
  private second = -1;
  private total = 0;
  private readonly bySource = new Map<string, number>();
  private suppressed = 0;

  constructor(
    private readonly perSourcePerSecond = 2,
    private readonly totalPerSecond = 20,
  ) {}

  /** null: don't log this one; otherwise log it, with the count of warnings suppressed since the last. */
  take(source: string, now: number): { suppressed: number } | null {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.total = 0;
      this.bySource.clear();
    }
    const mine = this.bySource.get(source) ?? 0;
    if (mine >= this.perSourcePerSecond || this.total >= this.totalPerSecond) {
      this.suppressed++;
      return null;
    }
    this.bySource.set(source, mine + 1);
    this.total++;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    return { suppressed };
  }
}

/** What a log line may keep of a client-chosen string (a username, a client id). */
export function clip(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}
