// When each piece of work still under way began, and the oldest of them, in constant time per
// step: work ends in any order, so an ended entry is only marked and dropped once it reaches the
// front. Used to tell a backed-up queue from a busy one (authenticate.ts).
import { Fifo } from './fifo';

interface Entry {
  readonly at: number;
  ended: boolean;
}

export class StartTimes {
  private readonly entries = new Fifo<Entry>();
  private count = 0;

  /** How many are under way. */
  get size(): number {
    return this.count;
  }

  add(at: number): Entry {
    const entry = { at, ended: false };
    this.entries.push(entry);
    this.count++;
    return entry;
  }

  remove(entry: Entry): void {
    if (entry.ended) return;
    entry.ended = true;
    this.count--;
  }

  /** When the oldest still under way began; `now` when none is. */
  oldest(now: number): number {
    while (this.entries.peek()?.ended) this.entries.shift();
    return this.entries.peek()?.at ?? now;
  }
}
