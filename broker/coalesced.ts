// One run at a time per key, and a request made while one runs asks for one more run after it:
// a burst of requests costs at most two runs, and every request is covered by a run that started
// after it was made.
export class Coalesced<K> {
  private readonly running = new Map<K, Promise<void>>();
  private readonly again = new Set<K>();

  /** `stopped` ends the reruns when the owner shuts down. */
  constructor(private readonly stopped: () => boolean) {}

  /** Runs fn for the key now, or once more after the run under way; resolves when that is done. */
  run(key: K, fn: () => Promise<void>): Promise<void> {
    const running = this.running.get(key);
    if (running) {
      this.again.add(key);
      return running;
    }
    const p = (async () => {
      try {
        do {
          this.again.delete(key);
          await fn();
        } while (this.again.has(key) && !this.stopped());
      } finally {
        this.running.delete(key);
      }
    })();
    this.running.set(key, p);
    return p;
  }

  /** Resolves when every run under way has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }
}
