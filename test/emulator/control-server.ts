// The emulator's side of the signal tap (host-tools/serial/signal-tap.ts), plus test-only
// requests: {"dump": path} writes the flash image to a file. One JSON object per line in, one reply
// line out, after the request has taken effect.
import { createServer, type Server } from 'node:net';
import { onLines } from '../../host-tools/serial/json-lines';
import type { TapMessage, TapReply } from '../../host-tools/serial/signal-tap';

export type ControlMessage = TapMessage | { dump: string };

export function startControlServer(
  socketPath: string,
  handle: (msg: ControlMessage) => Promise<void>,
  log: (event: Record<string, unknown>) => void,
): Promise<Server> {
  const server = createServer((socket) => {
    let chain: Promise<void> = Promise.resolve();
    onLines(socket, (line) => {
      chain = chain.then(async () => {
        let reply: TapReply;
        try {
          await handle(JSON.parse(line) as ControlMessage);
          reply = { ok: true };
        } catch (e) {
          reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
        }
        if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
      });
    });
    socket.on('error', (err) => {
      log({ ev: 'control-error', message: err.message });
      socket.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}
