// scrypt (for a device, only while its stored hash still dates from an older broker) runs on
// libuv's thread pool, whose queue cannot drop work. When a whole fleet connects
// at once, devices give up on slow attempts and retry, and the broker would still hash for every
// attempt nobody waits for (1,088 of them while 10,000 devices came back in bench:fleet). Work
// waits here instead, no more of it in the pool than the pool has threads, and is dropped
// unstarted once the connection it is for has gone.

export class HashQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  dropped = 0;

  constructor(private readonly concurrency: number) {
    if (!(concurrency >= 1)) throw new Error('HashQueue needs a concurrency of at least 1');
  }

  /** Tasks waiting for a slot. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Runs task in turn; resolves null, without running it, when wanted() is false by then. */
  async run<T>(task: () => Promise<T>, wanted: () => boolean): Promise<T | null> {
    if (this.running >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      if (!wanted()) {
        this.dropped++;
        return null;
      }
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` counts it throughout.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
