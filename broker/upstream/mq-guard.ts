// MQEmitter drains its queue recursively: when a slot frees, `released` calls `_do` for the next
// queued message, and a message nobody listens to completes synchronously, releasing the next
// one. A burst of thousands of queued messages (10,000 devices connecting, each announcing
// itself on $SYS) overflows the stack and kills the process (upstream mcollina/mqemitter#204,
// still open). We keep the upstream design but break the recursion past a fixed depth by
// finishing that message on the next turn of the event loop. The slot is taken synchronously,
// so later messages stay queued behind it and delivery order is unchanged.
interface Emitter {
  _do(message: unknown, callback: unknown): unknown;
  _doing: boolean;
  current: number;
  _matcher: { match(topic: string): unknown[] };
  _parallel(self: unknown, matches: unknown[], message: unknown, callback: unknown): void;
}

const MAX_DEPTH = 200;
const GUARDED = Symbol('fleetbind.mqGuarded');

export function guardRecursion<T extends object>(mq: T): T {
  const e = mq as unknown as Emitter & { [GUARDED]?: true };
  if (e[GUARDED]) return mq;
  if (typeof e._do !== 'function' || typeof e._parallel !== 'function' || typeof e._matcher?.match !== 'function') {
    throw new Error('mqemitter internals changed (_do, _parallel, _matcher): review broker/upstream/mq-guard.ts against the installed version');
  }
  let depth = 0;
  e._do = function guardedDo(this: Emitter, message: { topic: string }, callback: unknown) {
    this._doing = true;
    const matches = this._matcher.match(message.topic);
    this.current++;
    if (depth >= MAX_DEPTH) {
      setImmediate(() => this._parallel(this, matches, message, callback));
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
