// Which node dispatches a device's jobs. Exactly one does at a time: on a single node that is
// always this one (LocalLease); in a cluster (cluster/lease.ts) it is the node the device said
// hello on, and work that needs the dispatcher (a submit's dispatch, a cancel or completion of a
// job on the device, a binding change) is run there.
// biome-ignore lint/suspicious/noExplicitAny: cross-node calls are not typed per operation yet (docs/architecture.md, Jobs).
export type LeaseHandler = (...args: any[]) => Promise<unknown>;

/** What the job system does for the lease: set up by DeviceEvents and JobRequests. */
export type LeaseOp =
  /** Another node took the device over: stop dispatching it, settling what is on the device. */
  | 'release'
  /** The node that dispatched the device died: settle its jobs left dispatched or running. */
  | 'settle'
  | 'pump'
  | 'binding'
  | 'submit'
  | 'cancel'
  | 'complete'
  /** Reordering the device's waiting jobs. */
  | 'move';

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
  onHolder<T>(device: string, op: LeaseOp, args: unknown[], here: () => Promise<T>): Promise<T>;
  handle(op: LeaseOp, fn: LeaseHandler): void;
}

/** One node: it dispatches every device. */
export class LocalLease implements DispatchLease {
  async acquire(): Promise<boolean> {
    return false;
  }

  async orphaned(): Promise<boolean> {
    return true;
  }

  onHolder<T>(_device: string, _op: LeaseOp, _args: unknown[], here: () => Promise<T>): Promise<T> {
    return here();
  }

  handle(): void {}
}
