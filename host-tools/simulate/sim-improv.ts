// A simulated device's console UART, for Improv Wi-Fi: a real serial port (a socat pty, a
// USB-serial adapter) on which the device answers Improv as the firmware does on its UART0, so
// `npm run flash -- improv --port ...` and the web Flash page can give it a network.
import { SerialPort } from 'serialport';
import type { ImprovService } from '../../firmware/core/improv';

/** The firmware's console rate (host-tools/flash/device-console.ts). */
const CONSOLE_BAUD = 115200;

export interface ImprovSerial {
  write(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export async function openImprovSerial(path: string, service: () => ImprovService | null, onError: (err: Error) => void): Promise<ImprovSerial> {
  const port = new SerialPort({ path, baudRate: CONSOLE_BAUD, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => (err ? reject(new Error(`cannot open --improv-serial ${path}: ${err.message}`)) : resolve())),
  );
  port.on('data', (chunk: Buffer) => service()?.receive(new Uint8Array(chunk)));
  port.on('error', onError);
  return {
    write: (bytes) => {
      port.write(Buffer.from(bytes));
    },
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}
