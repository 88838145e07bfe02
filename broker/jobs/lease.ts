// Which node dispatches a device's jobs. Exactly one does at a time: on a single node that is
// always this one (LocalLease); in a cluster (cluster/lease.ts) it is the node the device said
// hello on, and work that needs the dispatcher (a submit's dispatch, a cancel or completion of a
// job on the device, a binding change) is run there.
import type { JobAnswer, JobOp, JobRpc } from './job-rpc';

export interface DispatchLease {
  /**
   * The device said hello on this node: make this node its dispatcher. Resolves once no other
   * node dispatches it; true when another node (or none known) did before, so jobs left
   * dispatched or running in the registry must be settled here.
   */
  acquire(device: string): Promise<boolean>;
  /** At start-up: true when no live node dispatches the device, so its leftovers are ours to settle. */
  orphaned(device: string): Promise<boolean>;
  /**
   * Runs op on the device's dispatcher: `here` when that is this node or no live node, else the
   * handler registered for op on that node (its result, or its ProtocolError, comes back).
   */
  onHolder<K extends JobOp>(device: string, op: K, args: Parameters<JobRpc[K]>, here: () => Promise<JobAnswer<K>>): Promise<JobAnswer<K>>;
  /** Serves op to the other nodes. */
  handle<K extends JobOp>(op: K, fn: JobRpc[K]): void;
}

/** One node: it dispatches every device. */
export class LocalLease implements DispatchLease {
  async acquire(): Promise<boolean> {
    return false;
  }

  async orphaned(): Promise<boolean> {
    return true;
  }

  onHolder<K extends JobOp>(_device: string, _op: K, _args: Parameters<JobRpc[K]>, here: () => Promise<JobAnswer<K>>): Promise<JobAnswer<K>> {
    return here();
  }

  handle(): void {}
}
