// One request/reply exchange at a time over a byte link to the attached machine: write the
// request, collect the reply until it ends with the expected bytes or the time is up. Shared by
// the UART adapter and the simulator's machine model, so both keep the same rules. Portable:
// no Moddable or Node imports.
import type { Serial, SerialRequest, SerialResult, TimerHandle } from './platform';

/** A reply longer than this fails the exchange instead of growing without bound. */
export const MAX_REPLY_BYTES = 4096;
/** The error of a send while another exchange is in flight; the sender may try again shortly. */
export const SERIAL_BUSY = 'serial port busy with another exchange';

export interface ExchangeTimers {
  setTimer(ms: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

interface Pending {
  done: (result: SerialResult) => void;
  expect: Uint8Array | undefined;
  reply: Uint8Array;
  length: number;
  timer: TimerHandle;
}

function endsWith(data: Uint8Array, length: number, tail: Uint8Array): boolean {
  if (tail.length === 0 || length < tail.length) return false;
  for (let i = 0; i < tail.length; i++) if (data[length - tail.length + i] !== tail[i]) return false;
  return true;
}

export class SerialExchange implements Serial {
  private pending: Pending | undefined;
  /** Bytes that arrived while no exchange was waiting (the machine talking on its own). */
  unsolicited = 0;

  constructor(
    private readonly timers: ExchangeTimers,
    private readonly write: (bytes: Uint8Array) => void,
  ) {}

  send(request: SerialRequest, done: (result: SerialResult) => void): { abort(): void } {
    if (this.pending) {
      let aborted = false;
      this.timers.setTimer(0, () => {
        if (!aborted) done({ ok: false, error: SERIAL_BUSY });
      });
      return { abort: () => (aborted = true) };
    }
    const pending: Pending = {
      done,
      expect: request.expect,
      reply: new Uint8Array(MAX_REPLY_BYTES),
      length: 0,
      timer: this.timers.setTimer(request.timeoutMs, () => this.finish(pending, { ok: true, data: pending.reply.slice(0, pending.length) })),
    };
    this.pending = pending;
    try {
      this.write(request.data);
    } catch (e) {
      const error = `serial write failed: ${e instanceof Error ? e.message : String(e)}`;
      this.timers.clearTimer(pending.timer);
      pending.timer = this.timers.setTimer(0, () => this.finish(pending, { ok: false, error }));
    }
    return { abort: () => this.end(pending) };
  }

  /** Feed bytes read from the link. */
  receive(bytes: Uint8Array): void {
    const pending = this.pending;
    if (!pending) {
      this.unsolicited += bytes.length;
      return;
    }
    if (pending.length + bytes.length > MAX_REPLY_BYTES) {
      this.finish(pending, { ok: false, error: `reply longer than ${MAX_REPLY_BYTES} bytes` });
      return;
    }
    pending.reply.set(bytes, pending.length);
    pending.length += bytes.length;
    if (pending.expect && endsWith(pending.reply, pending.length, pending.expect)) {
      this.finish(pending, { ok: true, data: pending.reply.slice(0, pending.length) });
    }
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  private finish(pending: Pending, result: SerialResult): void {
    if (this.end(pending)) pending.done(result);
  }

  private end(pending: Pending): boolean {
    if (this.pending !== pending) return false;
    this.timers.clearTimer(pending.timer);
    this.pending = undefined;
    return true;
  }
}
