// The machine on a simulated device's UART: it echoes every byte it receives, after a fixed
// turnaround, at the line's baud rate (10 bits per byte), in chunks the size of an ESP32 UART
// FIFO read. The device side is the firmware's own SerialExchange, so the request/reply rules
// (expected tail, timeout, size cap, one exchange at a time) are the ones the board runs.
import type { TimerHandle } from '../../firmware/core/platform';
import { SerialExchange } from '../../firmware/core/serial-exchange';

export interface EchoMachineOptions {
  baud: number;
  /** Time between the last byte in and the first byte out. */
  turnaroundMs: number;
}

/** Bytes delivered per receive() call, as one UART FIFO read would. */
const CHUNK = 64;

const timers = {
  setTimer: (ms: number, cb: () => void): TimerHandle => setTimeout(cb, ms),
  clearTimer: (h: TimerHandle): void => clearTimeout(h as NodeJS.Timeout),
};

export function echoMachine(o: EchoMachineOptions): SerialExchange {
  const msPerByte = 10_000 / o.baud;
  const exchange: SerialExchange = new SerialExchange(timers, (bytes) => {
    const copy = Uint8Array.from(bytes);
    const inMs = copy.length * msPerByte;
    for (let at = 0; at < copy.length; at += CHUNK) {
      const chunk = copy.subarray(at, at + CHUNK);
      // Unref'd: a machine still talking must not keep a stopped simulator alive.
      setTimeout(() => exchange.receive(chunk), inMs + o.turnaroundMs + (at + chunk.length) * msPerByte).unref();
    }
  });
  return exchange;
}
