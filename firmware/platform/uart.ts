// Platform serial on the ECMA-419 "embedded:io/serial" class, the serial IO the Moddable SDK
// ships for ESP32 (the older "serial" module is not built for esp32). The ESP32 driver writes
// straight into a 128-byte transmit FIFO and throws "output full" past it, so requests (up to
// 3 KiB) go out in pieces as onWritable reports room.
import Serial from 'embedded:io/serial';
import { SerialExchange, type ExchangeTimers } from '../core/serial-exchange';

/** An ESP32 UART on two GPIOs, or (lin) a serial device such as /dev/ttyUSB0. */
export type UartConfig =
  | {
      /** UART number; 0 is the console, so the attached machine normally sits on 1 or 2. */
      port: number;
      receive: number;
      transmit: number;
      baud: number;
    }
  | { device: string; baud: number };

type Pins = { port: number; receive: number; transmit: number };

/** The lin driver opens a device path instead of pins; @moddable/typings only describes the pin form. */
function where(config: UartConfig): Pins {
  if ('device' in config) return { device: config.device } as unknown as Pins;
  return { port: config.port, receive: config.receive, transmit: config.transmit };
}

/** Opens the UART; received bytes go to `onBytes`; the returned function queues bytes to send. */
export function openSerial(config: UartConfig, onBytes: (bytes: Uint8Array) => void): (bytes: Uint8Array) => void {
  let outgoing: Uint8Array = new Uint8Array(0);
  let sent = 0;
  let room = 0;
  const pump = (serial: Serial): void => {
    const count = Math.min(room, outgoing.length - sent);
    if (count <= 0) return;
    serial.write(outgoing.subarray(sent, sent + count));
    sent += count;
    room -= count;
  };
  const serial = new Serial({
    ...where(config),
    baud: config.baud,
    format: 'buffer',
    onReadable(count) {
      const bytes = this.read(count);
      if (bytes) onBytes(new Uint8Array(bytes));
    },
    onWritable(count) {
      room = count;
      pump(this);
    },
  });
  return (bytes) => {
    const rest = outgoing.subarray(sent);
    const next = new Uint8Array(rest.length + bytes.length);
    next.set(rest, 0);
    next.set(bytes, rest.length);
    outgoing = next;
    sent = 0;
    pump(serial);
  };
}

export function openUart(config: UartConfig, timers: ExchangeTimers): SerialExchange {
  const send = openSerial(config, (bytes) => exchange.receive(bytes));
  const exchange = new SerialExchange(timers, send);
  return exchange;
}
