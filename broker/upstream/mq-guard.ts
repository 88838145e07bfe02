// MQEmitter drains its queue recursively: when a slot frees, `released` calls `_do` for the next
// queued message, and a message nobody listens to completes synchronously, releasing the next
// one. A burst of thousands of queued messages (10,000 devices connecting, each announcing
// itself on $SYS) overflows the stack and kills the process (upstream mcollina/mqemitter#204,
// still open). We keep the upstream design but break the recursion past a fixed depth: that
// message, and every message that reaches `_do` after it until the backlog is empty, waits in
// a backlog that the next turn of the event loop delivers in order. Order matters beyond taste:
// Aedes drops a delivery numbered below the last one its client got (`dedupe`), so a message
// overtaken by a later one is lost. Deferring only the deep message let another slot's release
// deliver later messages first, and under load an agent lost the queue snapshot that showed its
// job done. Each backlogged message takes its slot at once, as it would have.
// MQEmitter's own queue of messages waiting for a slot is an array it shifts from: in a reconnect
// storm it grows past the length where shift() copies the array, so it becomes a Fifo here.
import { Fifo } from '../fifo';

interface Emitter {
  _do(message: unknown, callback: unknown): unknown;
  _doing: boolean;
  current: number;
  _matcher: { match(topic: string): unknown[] };
  _parallel(self: unknown, matches: unknown[], message: unknown, callback: unknown): void;
  _messageQueue: unknown[] | Fifo<unknown>;
  _messageCallbacks: unknown[] | Fifo<unknown>;
}

const MAX_DEPTH = 200;
/** Backlogged messages delivered in one turn before the event loop gets its say again. */
const DRAIN_BATCH = 1000;
const GUARDED = Symbol('fleetbind.mqGuarded');

type Pending = { matches: unknown[]; message: unknown; callback: unknown };

export function guardRecursion<T extends object>(mq: T): T {
  const e = mq as unknown as Emitter & { [GUARDED]?: true };
  if (e[GUARDED]) return mq;
  if (
    typeof e._do !== 'function' ||
    typeof e._parallel !== 'function' ||
    typeof e._matcher?.match !== 'function' ||
    !Array.isArray(e._messageQueue) ||
    !Array.isArray(e._messageCallbacks)
  ) {
    throw new Error(
      'mqemitter internals changed (_do, _parallel, _matcher, _messageQueue, _messageCallbacks): review broker/upstream/mq-guard.ts against the installed version',
    );
  }
  if (e._messageQueue.length > 0) throw new Error('guard the emitter before any message is queued');
  // MQEmitter only pushes, shifts and reads the length of these two.
  e._messageQueue = new Fifo();
  e._messageCallbacks = new Fifo();
  let depth = 0;
  const backlog = new Fifo<Pending>();
  // The message being delivered stays first in the backlog meanwhile, so whatever its delivery
  // sets off queues behind it instead of recursing.
  const drain = (): void => {
    for (let n = 0; n < DRAIN_BATCH && backlog.length > 0; n++) {
      const { matches, message, callback } = backlog.peek()!;
      try {
        e._parallel(e, matches, message, callback);
      } finally {
        backlog.shift();
      }
    }
    if (backlog.length > 0) setImmediate(drain);
  };
  e._do = function guardedDo(this: Emitter, message: { topic: string }, callback: unknown) {
    this._doing = true;
    const matches = this._matcher.match(message.topic);
    this.current++;
    if (backlog.length > 0 || depth >= MAX_DEPTH) {
      if (backlog.push({ matches, message, callback }) === 1) setImmediate(drain);
      return this;
    }
    depth++;
    try {
      this._parallel(this, matches, message, callback);
    } finally {
      depth--;
    }
    return this;
  } as Emitter['_do'];
  e[GUARDED] = true;
  return mq;
}
