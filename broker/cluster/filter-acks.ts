// A new subscription is granted only once every other node has applied its filter (docs/
// architecture.md, Cluster routing): a node decides alone whether another one gets a message, so a
// client that publishes on node A the moment its peer's SUBACK came from node B must find B
// listed on A. Each node confirms the filter changes it applied, the highest number per node and
// per turn of its event loop. A node that does not confirm in time is not waited for again until
// it answers, so one hung or dead node (until it is settled) delays subscriptions once, not each.
export class FilterAcks {
  private readonly acked = new Map<string, number>();
  private readonly silent = new Set<string>();
  private readonly waiters = new Set<{ seq: number; waiting: Set<string>; done: () => void }>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onLate: (nodes: string[]) => void,
  ) {}

  /** Resolves when each peer has confirmed this node's change `seq`, or the time is up. */
  wait(seq: number, peers: Iterable<string>): Promise<void> {
    const waiting = new Set<string>();
    for (const p of peers) if (!this.silent.has(p) && (this.acked.get(p) ?? 0) < seq) waiting.add(p);
    if (waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const w = {
        seq,
        waiting,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        for (const p of w.waiting) this.silent.add(p);
        this.onLate([...w.waiting]);
        w.done();
      }, this.timeoutMs);
      this.waiters.add(w);
    });
  }

  /** A peer applied this node's changes up to `seq`. */
  ack(peer: string, seq: number): void {
    this.silent.delete(peer);
    if (seq <= (this.acked.get(peer) ?? 0)) return;
    this.acked.set(peer, seq);
    for (const w of this.waiters) {
      if (w.seq <= seq && w.waiting.delete(peer) && w.waiting.size === 0) w.done();
    }
  }

  /** This node's changes are numbered from the start again. */
  reset(): void {
    this.acked.clear();
  }

  /** A peer left: nothing waits for it. */
  forget(peer: string): void {
    this.acked.delete(peer);
    this.silent.delete(peer);
    for (const w of this.waiters) if (w.waiting.delete(peer) && w.waiting.size === 0) w.done();
  }
}
