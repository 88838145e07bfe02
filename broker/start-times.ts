// When each piece of work still under way began, and the oldest of them, in constant time per
// step: work ends in any order, so an ended entry is only marked and dropped once it reaches the
// front. Used to tell a backed-up queue from a busy one (authenticate.ts).
interface Entry {
  readonly at: number;
  ended: boolean;
}

export class StartTimes {
  private entries: Entry[] = [];
  private head = 0;
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
    while (this.head < this.entries.length && this.entries[this.head]!.ended) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return this.head < this.entries.length ? this.entries[this.head]!.at : now;
  }
}
