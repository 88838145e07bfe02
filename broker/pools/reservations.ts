// Pool devices and waiting entries that one of this node's writes is about to take
// (docs/architecture.md, Locations and pools). The writes of one group commit run one after
// another before any of them commits, so by the registry alone each would reach for the same
// free device or the same oldest entry, and all but one would lose a conditional UPDATE. A write
// marks what it takes, and the others pass over it. Only a hint: the conditional UPDATEs still
// decide, across nodes too.

/** What one write holds; released once its outcome is applied in memory (or it failed). */
export class Hold {
  readonly keys: string[] = [];
}

export class Reservations {
  private readonly holders = new Map<string, Hold>();

  /** Whether a write other than `except` holds the key. */
  heldByOther(key: string, except?: Hold): boolean {
    const h = this.holders.get(key);
    return h !== undefined && h !== except;
  }

  /** Marks the key for the hold unless another holds it (a write run again holds what it held). */
  take(key: string, hold: Hold): boolean {
    if (this.heldByOther(key, hold)) return false;
    if (!this.holders.has(key)) {
      this.holders.set(key, hold);
      hold.keys.push(key);
    }
    return true;
  }

  release(hold: Hold): void {
    for (const k of hold.keys) if (this.holders.get(k) === hold) this.holders.delete(k);
    hold.keys.length = 0;
  }

  /** Runs fn with a hold of its own, released whatever fn's outcome. */
  async with<T>(fn: (hold: Hold) => Promise<T>): Promise<T> {
    const hold = new Hold();
    try {
      return await fn(hold);
    } finally {
      this.release(hold);
    }
  }
}
