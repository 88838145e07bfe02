// A bound on how many transactions of one kind hold pooled PostgreSQL connections at once. The
// rest wait here, in arrival order, for as long as it takes, instead of in the pool, whose
// connect timeout turns a wait of a few seconds into an error; and the connections left over
// keep serving everything else (health probe, hellos, job steps, binding reloads).
export class TxGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.size) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // A finished run hands its place straight to the next waiter.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
