// Reconnect schedule shared by Wi-Fi and MQTT: exponential growth, a cap, and jitter so a
// fleet that lost its broker at the same instant does not come back at the same instant.

export interface BackoffOptions {
  /** Ceiling of the first delay, ms. */
  baseMs: number;
  /** No delay ever exceeds this, ms. */
  capMs: number;
  factor: number;
  /** Fraction of the ceiling that is randomised: a delay lies in [ceiling*(1-jitter), ceiling]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, capMs: 30_000, factor: 2, jitter: 0.5 };

/** The largest delay the given (0-based) attempt may wait. */
export function backoffCeiling(attempt: number, o: BackoffOptions): number {
  // Grows by repeated multiplication and stops at the cap, so a long outage never overflows.
  let ceiling = o.baseMs;
  for (let i = 0; i < attempt && ceiling < o.capMs; i++) ceiling *= o.factor;
  return Math.min(ceiling, o.capMs);
}

/** Delay for the given attempt; `random` is uniform in [0, 1). */
export function backoffDelay(attempt: number, random: number, o: BackoffOptions): number {
  const ceiling = backoffCeiling(attempt, o);
  return Math.floor(ceiling * (1 - o.jitter * random));
}

export class Backoff {
  private attempt = 0;
  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number,
  ) {}

  /** The delay before the next try; each call counts as one more failed attempt. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.random(), this.options);
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

export function checkBackoffOptions(o: BackoffOptions, what: string): BackoffOptions {
  if (!(o.baseMs > 0) || !(o.capMs >= o.baseMs) || !(o.factor >= 1) || !(o.jitter >= 0 && o.jitter <= 1)) {
    throw new Error(`${what}: backoff needs baseMs > 0, capMs >= baseMs, factor >= 1 and jitter in [0, 1]`);
  }
  return o;
}
