// The broker's clock: the time `ctx.now` reads and the timers of presence's grace windows
// (docs/architecture.md, Presence). Production uses the system's; a test passes one it moves on
// itself, so a grace window or an idle timeout ends when the test says, not after a sleep.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: Date.now,
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    // A pending grace window must not keep the process alive.
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
