// What a pseudo-terminal cannot carry: a pty has no modem-control lines (TIOCMSET fails with
// ENOTTY) and no line rate (both ends exchange bytes at any "baud"). When the "device" on the far
// end of a pty is an emulator, the adapter reports DTR/RTS and baud-rate changes here instead, over
// a Unix socket, one JSON object per line, each acknowledged with one line before the call returns,
// so the emulator has applied a signal change before the next byte is written. Real USB-serial
// ports never need this; the flash CLI connects a tap only when FLEETBIND_SERIAL_TAP names a socket.
import { createConnection, type Socket } from 'node:net';
import { onLines } from './json-lines';

export interface TapSignals {
  dtr: boolean;
  rts: boolean;
  brk: boolean;
}

export type TapMessage = { signals: TapSignals } | { baud: number };

export type TapReply = { ok: true } | { ok: false; error: string };

export const SERIAL_TAP_ENV = 'FLEETBIND_SERIAL_TAP';

export interface SignalTap {
  send(message: TapMessage): Promise<void>;
  close(): void;
}

export function connectSignalTap(socketPath: string): Promise<SignalTap> {
  return new Promise((resolve, reject) => {
    const socket: Socket = createConnection(socketPath);
    const waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    let closed: Error | null = null;
    let connected = false;

    const failAll = (err: Error): void => {
      closed = err;
      for (const w of waiting.splice(0)) w.reject(err);
    };

    onLines(socket, (line) => {
      const w = waiting.shift();
      if (!w) return;
      let reply: TapReply;
      try {
        reply = JSON.parse(line) as TapReply;
      } catch {
        w.reject(new Error(`signal tap sent an unreadable reply: ${line}`));
        return;
      }
      if (reply.ok) w.resolve();
      else w.reject(new Error(`signal tap refused the message: ${reply.error}`));
    });
    socket.on('close', () => failAll(new Error(`signal tap ${socketPath} closed`)));
    socket.on('error', (err) => {
      if (!connected) reject(new Error(`cannot connect to the signal tap at ${socketPath}: ${err.message}`));
      failAll(err);
    });
    socket.once('connect', () => {
      connected = true;
      resolve({
        send(message: TapMessage): Promise<void> {
          if (closed) return Promise.reject(closed);
          return new Promise((res, rej) => {
            waiting.push({ resolve: res, reject: rej });
            socket.write(`${JSON.stringify(message)}\n`);
          });
        },
        close(): void {
          socket.end();
        },
      });
    });
  });
}
