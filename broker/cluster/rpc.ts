// Requests from one node to another over Redis: each node listens on its own channel, runs the
// handler registered for the op and answers on the caller's channel. A ProtocolError thrown by
// the handler reaches the caller as the same ProtocolError.
import { randomUUID } from 'node:crypto';
import { ErrorCode, ProtocolError, type WireError } from '../../protocol/errors';
import type { Logger } from '../logger';
import { type ClusterMq, listen, send } from './mq';

const TOPIC = '$SYS/fleetbind/rpc/';

/**
 * The operations nodes serve each other, by name: both the caller and the serving end are checked
 * against it. Arguments and answers cross as JSON.
 */
export type RpcOps<Ops> = { [K in keyof Ops]: (...args: never[]) => Promise<unknown> };

type Wire =
  | { k: 'req'; id: string; from: string; op: string; args: unknown[] }
  | { k: 'res'; id: string; ok: true; result: unknown }
  | { k: 'res'; id: string; ok: false; error: WireError };

export class NodeRpc<Ops extends RpcOps<Ops>> {
  private readonly handlers = new Map<string, (...args: never[]) => Promise<unknown>>();
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly mq: ClusterMq,
    private readonly node: string,
    private readonly log: Logger,
  ) {}

  start(): Promise<void> {
    return listen<Wire>(this.mq, TOPIC + this.node, this.log, 'request', (w) => this.onMessage(w));
  }

  handle<K extends keyof Ops & string>(op: K, fn: Ops[K]): void {
    this.handlers.set(op, fn);
  }

  /** Runs the op's handler of this node directly. */
  local<K extends keyof Ops & string>(op: K, args: Parameters<Ops[K]>): Promise<Awaited<ReturnType<Ops[K]>>> {
    return this.run(op, args) as Promise<Awaited<ReturnType<Ops[K]>>>;
  }

  call<K extends keyof Ops & string>(node: string, op: K, args: Parameters<Ops[K]>, timeoutMs = 5_000): Promise<Awaited<ReturnType<Ops[K]>>> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcTimeout(`node ${node} did not answer '${op}' within ${timeoutMs} ms`));
      }, timeoutMs);
      // The serving end answers with what Ops says op returns: the same type on both ends.
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.send(node, { k: 'req', id, from: this.node, op, args });
    });
  }

  /** A request by name, as it came off the wire. */
  private run(op: string, args: unknown[]): Promise<unknown> {
    const fn = this.handlers.get(op);
    if (!fn) return Promise.reject(new Error(`no handler for '${op}' on this node`));
    // A handler may throw before its first await (submit does, to keep queue order): that must
    // reach the caller as a rejection, not escape into the Redis reader and end the process.
    return new Promise((resolve) => resolve(fn(...(args as never[]))));
  }

  private send(node: string, w: Wire): void {
    send(this.mq, TOPIC + node, w, this.log, w.k === 'req' ? 'a request' : 'an answer');
  }

  private onMessage(w: Wire): void {
    if (w.k === 'res') {
      const p = this.pending.get(w.id);
      if (!p) return;
      this.pending.delete(w.id);
      clearTimeout(p.timer);
      if (w.ok) return p.resolve(w.result);
      const { code, message, field, ...extra } = w.error;
      p.reject(new ProtocolError(code, message, field, extra));
      return;
    }
    this.run(w.op, w.args).then(
      (result) => this.send(w.from, { k: 'res', id: w.id, ok: true, result: result ?? null }),
      (err: unknown) => {
        if (!(err instanceof ProtocolError)) this.log.error({ err, op: w.op, from: w.from }, 'a request from another node failed');
        const error =
          err instanceof ProtocolError ? err.toWire() : { code: ErrorCode.INTERNAL, message: 'internal error on another node; nothing was changed' };
        this.send(w.from, { k: 'res', id: w.id, ok: false, error });
      },
    );
  }
}

export class RpcTimeout extends Error {
  override readonly name = 'RpcTimeout';
}
