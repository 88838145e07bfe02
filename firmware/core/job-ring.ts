// The dedupe ring: the last N job ids this device has seen, with the final ack of each one
// that ended. A resent cmd finds its id here and is answered, never run again. Fixed size, so
// a flood of job ids cannot grow memory; the oldest id is forgotten first.

export interface RingEntry {
  job: string;
  /** The final ack as sent (JSON text), or null while the job runs. */
  finalAck: string | null;
  /** An `accepted` ack went out for this job (a rejected job never had one). */
  accepted: boolean;
  /** The final ack could not be published (no session); it goes out after the next hello. */
  unsent: boolean;
}

export class JobRing {
  private readonly entries: (RingEntry | undefined)[];
  private cursor = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('dedupe ring capacity must be a positive integer');
    this.entries = new Array<RingEntry | undefined>(capacity).fill(undefined);
  }

  find(job: string): RingEntry | undefined {
    for (const e of this.entries) if (e !== undefined && e.job === job) return e;
    return undefined;
  }

  /** Remembers a job id, evicting the oldest when full. */
  add(job: string): RingEntry {
    const entry: RingEntry = { job, finalAck: null, accepted: false, unsent: false };
    this.entries[this.cursor] = entry;
    this.cursor = (this.cursor + 1) % this.capacity;
    return entry;
  }

  get size(): number {
    let n = 0;
    for (const e of this.entries) if (e !== undefined) n++;
    return n;
  }

  /** Final acks still to publish, oldest first. */
  unsent(): RingEntry[] {
    const out: RingEntry[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const e = this.entries[(this.cursor + i) % this.capacity];
      if (e?.unsent) out.push(e);
    }
    return out;
  }
}
