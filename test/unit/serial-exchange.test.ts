// The serial request/reply rules the board's UART adapter and the simulator's machine share
// (firmware/core/serial-exchange.ts), driven through the simulator's echo machine.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SerialRequest, SerialResult } from '../../firmware/core/platform';
import { MAX_REPLY_BYTES, SerialExchange } from '../../firmware/core/serial-exchange';
import { echoMachine } from '../../host-tools/simulate/sim-machine';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

function send(serial: SerialExchange, request: SerialRequest): Promise<SerialResult> {
  return new Promise((resolve) => serial.send(request, resolve));
}

const nodeTimers = {
  setTimer: (ms: number, cb: () => void) => setTimeout(cb, ms),
  clearTimer: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
};

const t = suite('serial exchange');

t('the echo machine answers with the bytes it was sent, complete at the expected tail', async () => {
  const serial = echoMachine({ baud: 115_200, turnaroundMs: 1 });
  const r = await send(serial, { data: bytes('STATUS?\r\n'), timeoutMs: 5000, expect: bytes('\r\n') });
  assert.equal(r, { ok: true, data: bytes('STATUS?\r\n') });
});

t('a request longer than one FIFO read comes back whole, in order', async () => {
  const serial = echoMachine({ baud: 1_000_000, turnaroundMs: 0 });
  const line = Array.from({ length: 300 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('') + '\n';
  const r = await send(serial, { data: bytes(line), timeoutMs: 5000, expect: bytes('\n') });
  assert.ok(r.ok);
  if (r.ok) assert.is(text(r.data), line);
});

t('without an expected tail, whatever arrived by the timeout is the reply', async () => {
  const serial = echoMachine({ baud: 115_200, turnaroundMs: 1 });
  const r = await send(serial, { data: bytes('PING'), timeoutMs: 100 });
  assert.equal(r, { ok: true, data: bytes('PING') });
});

t('a tail that never comes ends at the timeout with the partial reply', async () => {
  const serial = echoMachine({ baud: 115_200, turnaroundMs: 1 });
  const r = await send(serial, { data: bytes('NO NEWLINE'), timeoutMs: 100, expect: bytes('\n') });
  assert.equal(r, { ok: true, data: bytes('NO NEWLINE') });
});

t('a second exchange while one is running fails as busy; the first is unaffected', async () => {
  const serial = echoMachine({ baud: 115_200, turnaroundMs: 20 });
  const first = send(serial, { data: bytes('A\n'), timeoutMs: 2000, expect: bytes('\n') });
  const second = await send(serial, { data: bytes('B\n'), timeoutMs: 2000 });
  assert.equal(second, { ok: false, error: 'serial port busy with another exchange' });
  assert.equal(await first, { ok: true, data: bytes('A\n') });
});

t('an aborted exchange never calls back and frees the port', async () => {
  const serial = echoMachine({ baud: 115_200, turnaroundMs: 20 });
  let called = false;
  const run = serial.send({ data: bytes('X\n'), timeoutMs: 50 }, () => (called = true));
  run.abort();
  assert.not.ok(serial.busy);
  const r = await send(serial, { data: bytes('Y\n'), timeoutMs: 2000, expect: bytes('Y\n') });
  assert.not.ok(called);
  assert.ok(r.ok);
});

t('a reply longer than the cap fails instead of growing', async () => {
  // A machine that answers every request with more than MAX_REPLY_BYTES.
  const exchange: SerialExchange = new SerialExchange(nodeTimers, () => setTimeout(() => exchange.receive(new Uint8Array(MAX_REPLY_BYTES + 1)), 1));
  const r = await send(exchange, { data: bytes('DUMP'), timeoutMs: 1000 });
  assert.equal(r, { ok: false, error: `reply longer than ${MAX_REPLY_BYTES} bytes` });
});

t('a write that throws fails the exchange with the reason, asynchronously', async () => {
  const exchange = new SerialExchange(nodeTimers, () => {
    throw new Error('output full');
  });
  let sync = true;
  const r = new Promise<SerialResult>((resolve) =>
    exchange.send({ data: bytes('Z'), timeoutMs: 1000 }, (res) => resolve(sync ? { ok: false, error: 'called synchronously' } : res)),
  );
  sync = false;
  assert.equal(await r, { ok: false, error: 'serial write failed: output full' });
});

t.run();
