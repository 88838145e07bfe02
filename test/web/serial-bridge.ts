// The ROM emulator's pty, reachable from a browser page: a WebSocket server that drives the port
// through the same Node Web-Serial adapter and signal tap the CLI uses (host-tools/serial), so
// every open, DTR/RTS change and rate the page asks for reaches the emulator exactly as the CLI's
// do. The page side is serial-shim.ts.
//
// Wire: the page sends JSON requests {id, op: 'open', baudRate} | {id, op: 'signals', signals} |
// {id, op: 'close'}, and writes as binary frames (4-byte little-endian id, then the bytes); each
// gets {id, ok, error?} once it has taken effect. Bytes from the device come as binary frames.
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { connectSignalTap } from '../../host-tools/serial/signal-tap';
import { NodeWebSerialPort } from '../../host-tools/serial/web-serial-port';

export interface BridgeRequest {
  id: number;
  op: 'open' | 'signals' | 'close';
  baudRate?: number;
  signals?: SerialOutputSignals;
}

export interface SerialBridge {
  url: string;
  /** Every request the page made, in order (writes as {op: 'write', bytes}). */
  requests: Array<{ op: string; [k: string]: unknown }>;
  close(): Promise<void>;
}

/** `tapPath`: the emulator's signal tap; without one (a simulator's pty) line changes reach nothing, as on a pty. */
export async function startSerialBridge(hostPath: string, tapPath?: string): Promise<SerialBridge> {
  const tap = tapPath ? await connectSignalTap(tapPath) : undefined;
  const port = new NodeWebSerialPort(hostPath, tap ? { tap } : {});
  const requests: SerialBridge['requests'] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let pumping: Promise<void> = Promise.resolve();

  const pump = async (ws: WebSocket, r: ReadableStreamDefaultReader<Uint8Array>): Promise<void> => {
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      if (ws.readyState === ws.OPEN) ws.send(value);
    }
  };

  const handle = async (ws: WebSocket, req: BridgeRequest | { op: 'write'; bytes: Uint8Array }): Promise<void> => {
    if (req.op === 'open') {
      await port.open({ baudRate: req.baudRate! });
      reader = port.readable!.getReader();
      pumping = pump(ws, reader);
    } else if (req.op === 'signals') {
      await port.setSignals(req.signals!);
    } else if (req.op === 'write') {
      const writer = port.writable!.getWriter();
      try {
        await writer.write(req.bytes);
      } finally {
        writer.releaseLock();
      }
    } else {
      await closePort();
    }
  };

  // The page's own close and the test's clean-up both end here; the reader lock must go before the port closes.
  async function closePort(): Promise<void> {
    if (!port.connected) return;
    await reader?.cancel();
    await pumping;
    reader?.releaseLock();
    reader = null;
    await port.close();
  }

  server.on('connection', (ws) => {
    let chain: Promise<void> = Promise.resolve();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let id: number;
      let req: Parameters<typeof handle>[1];
      if (isBinary) {
        id = data.readUInt32LE(0);
        req = { op: 'write', bytes: new Uint8Array(data.subarray(4)) };
        requests.push({ op: 'write', length: data.length - 4 });
      } else {
        const r = JSON.parse(data.toString()) as BridgeRequest;
        id = r.id;
        req = r;
        requests.push({ ...r });
      }
      chain = chain.then(async () => {
        try {
          await handle(ws, req);
          ws.send(JSON.stringify({ id, ok: true }));
        } catch (e) {
          ws.send(JSON.stringify({ id, ok: false, error: (e as Error).message }));
        }
      });
    });
  });

  const address = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${address.port}`,
    requests,
    async close() {
      for (const c of server.clients) c.terminate();
      await new Promise((r) => server.close(r));
      await closePort();
      tap?.close();
    },
  };
}
