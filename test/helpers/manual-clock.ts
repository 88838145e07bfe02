// A broker clock (broker/clock.ts) that the test moves on: wall time plus how far the test has
// advanced it, and timers that fire only when `advance` passes their time. A grace window or an
// idle timeout then ends exactly when the test says, however loaded the machine is.
import type { Clock, Timer } from '../../broker/clock';

interface Pending {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private ahead = 0;
  private pending: Pending[] = [];

  /**
   * `wall` is the time running underneath: the real one for a broker that also reads Date.now,
   * a constant for a part tested alone, whose time then moves only by `advance`.
   */
  constructor(private readonly wall: () => number = Date.now) {}

  now = (): number => this.wall() + this.ahead;

  after(ms: number, fn: () => void): Timer {
    const p: Pending = { at: this.now() + ms, fn, cancelled: false };
    this.pending.push(p);
    return { cancel: () => (p.cancelled = true) };
  }

  /**
   * Moves time on by `ms`, firing every timer that comes due on the way (also ones set meanwhile)
   * in time order, each with the clock at its own time, as if the time had passed.
   */
  advance(ms: number): void {
    const target = this.now() + ms;
    for (;;) {
      const due = this.pending.filter((p) => !p.cancelled && p.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.moveTo(due.at);
      due.cancelled = true;
      due.fn();
    }
    this.moveTo(target);
    this.pending = this.pending.filter((p) => !p.cancelled);
  }

  /** Never backwards: wall time keeps running underneath. */
  private moveTo(at: number): void {
    this.ahead = Math.max(this.ahead, at - this.wall());
  }
}
