// serial.send: relay bytes to the attached machine and return its reply, base64 on the wire.
// The reply kept is capped so one chatty machine cannot exhaust the heap or the ack limit.
import type { JobHandler } from '../job-handler';
import { decodeBase64, encodeBase64 } from '../base64';
import { SERIAL_BUSY } from '../serial-exchange';

export const MAX_SERIAL_REPLY_BYTES = 2048;
/** The adapter owns the serial timeout; this grace covers an adapter that never answers. */
const ADAPTER_GRACE_MS = 1_000;
const BUSY_RETRY_MS = 20;

export const serialSendHandler: JobHandler<'serial.send'> = {
  kind: 'serial.send',
  available: (platform) => platform.serial !== undefined,
  start(p, ctx) {
    const { platform } = ctx;
    const serial = platform.serial;
    if (serial === undefined) {
      ctx.fail('UNSUPPORTED: this board has no serial port');
      return { cancel() {} };
    }
    const request =
      p.expect === undefined
        ? { data: decodeBase64(p.data), timeoutMs: p.timeoutMs }
        : { data: decodeBase64(p.data), timeoutMs: p.timeoutMs, expect: decodeBase64(p.expect) };
    let exchange: { abort(): void } = { abort() {} };
    let retry: unknown = null;
    const send = (): void => {
      retry = null;
      exchange = serial.send(request, (r) => {
        // The core's status poll of the attached machine may hold the port for a moment: wait for it.
        if (!r.ok && r.error === SERIAL_BUSY) {
          retry = platform.setTimer(BUSY_RETRY_MS, send);
          return;
        }
        platform.clearTimer(guard);
        if (!r.ok) {
          ctx.fail(`SERIAL: ${r.error}`);
          return;
        }
        const truncated = r.data.length > MAX_SERIAL_REPLY_BYTES;
        const data = encodeBase64(truncated ? r.data.subarray(0, MAX_SERIAL_REPLY_BYTES) : r.data);
        ctx.done(truncated ? { data, bytes: r.data.length, truncated } : { data, bytes: r.data.length });
      });
    };
    const guard = platform.setTimer(p.timeoutMs + ADAPTER_GRACE_MS, () => {
      if (retry !== null) platform.clearTimer(retry);
      exchange.abort();
      ctx.fail(`SERIAL_TIMEOUT: the serial adapter did not answer within ${p.timeoutMs + ADAPTER_GRACE_MS} ms`);
    });
    send();
    ctx.progress(0);
    return {
      cancel() {
        platform.clearTimer(guard);
        if (retry !== null) platform.clearTimer(retry);
        exchange.abort();
      },
    };
  },
};
