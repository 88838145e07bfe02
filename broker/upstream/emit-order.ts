// Aedes numbers each message when publish() begins (aedes-packet's `brokerCounter`) and drops a
// delivery whose number is not above the last one the client got from this node (`dedupe` in
// aedes/lib/client.js, there to drop the second copy a client with overlapping subscriptions would
// get). But a retained message is stored before it is emitted, a step that finishes later than a
// plain message published after it: the plain one reaches the client first with the higher
// number, and the retained one, a queue snapshot or a binding, is then dropped without a word.
// Numbering each message as it is emitted makes the numbers follow the order clients receive
// them in, so only true copies are dropped. Checked at start like the other reach-ins.
interface Numbered {
  counter: number;
  id: string;
  mq: { emit(message: { brokerId?: string; brokerCounter?: number }, cb?: unknown): unknown };
}

const NUMBERED = Symbol('fleetbind.numberedAtEmit');

export function numberAtEmit(aedes: object): void {
  const a = aedes as Numbered & { mq: Numbered['mq'] & { [NUMBERED]?: true } };
  if (typeof a.counter !== 'number' || typeof a.id !== 'string' || typeof a.mq?.emit !== 'function') {
    throw new Error('aedes internals changed (counter, id, mq.emit): review broker/upstream/emit-order.ts against the installed version');
  }
  const mq = a.mq;
  if (mq[NUMBERED]) return;
  const emit = mq.emit.bind(mq);
  mq.emit = (message, cb) => {
    // Only this node's messages: another node's carry its own numbers, in its emit order already.
    if (message.brokerId === a.id) message.brokerCounter = ++a.counter;
    return emit(message, cb);
  };
  mq[NUMBERED] = true;
}
