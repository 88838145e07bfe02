// Phase 4 of a node (docs/architecture.md, How a node starts): MQTT over TCP (and TLS), and HTTP(S)
// with MQTT over WebSocket on /mqtt. Every socket passes the connection guard before Aedes sees it.
import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { requestAddress } from '../authenticate';
import type { ConnectionGuard } from '../connection-guard';
import type { Context } from '../context';
import { buildHttp } from '../http/app';
import { listenError } from '../start-errors';

/**
 * Node's default backlog of 511 overflows when a few thousand devices reconnect at once, and an
 * overflowed SYN costs the device a one-second retransmit. The kernel caps it at somaxconn.
 */
const LISTEN_BACKLOG = 8192;

export interface NodeListeners {
  tcp: Server;
  tlsServer: Server | null;
  http: FastifyInstance;
  wss: WebSocketServer;
  mqttPort: number;
  mqttsPort: number | null;
  httpPort: number;
}

function listen(server: Server, port: number, host: string, what: string, flag: string): Promise<number> {
  server.listen({ port, host, backlog: LISTEN_BACKLOG });
  // once() rejects with the 'error' event while it waits for 'listening'.
  return once(server, 'listening').then(
    () => (server.address() as AddressInfo).port,
    (err: unknown) => {
      throw listenError(what, flag, host, port, err);
    },
  );
}

export async function listenAll(
  ctx: Context,
  aedes: Aedes,
  guard: ConnectionGuard,
  tls: { cert: Buffer; key: Buffer } | null,
  startedAt: number,
): Promise<NodeListeners> {
  const { opts } = ctx;
  // MQTT is request/response in small packets: with Nagle on, a reply written behind an unacked
  // one waits for the peer's delayed ACK (about 40 ms), on every hop of a job.
  const tcp = createServer({ noDelay: true }, (socket) => {
    const guarded = guard.wrap(socket, socket.remoteAddress ?? 'unknown');
    if (guarded) aedes.handle(guarded);
  });
  const mqttPort = await listen(tcp, opts.mqttPort, opts.host, 'MQTT', '--mqtt-port');
  let tlsServer: Server | null = null;
  let mqttsPort: number | null = null;
  if (tls) {
    tlsServer = createTlsServer(tls, (socket) => {
      const guarded = guard.wrap(socket.setNoDelay(true), socket.remoteAddress ?? 'unknown');
      if (guarded) aedes.handle(guarded);
    });
    mqttsPort = await listen(tlsServer, opts.mqttsPort, opts.host, 'MQTTS', '--mqtts-port');
  }

  const http = await buildHttp(ctx, startedAt);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  http.server.on('upgrade', (req, socket, head) => {
    if (req.url?.split('?')[0] !== '/mqtt') {
      socket.destroy();
      return;
    }
    (socket as Socket).setNoDelay(true);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const guarded = guard.wrap(createWebSocketStream(ws), requestAddress(req, opts.trustProxy));
      if (guarded) aedes.handle(guarded, req);
    });
  });
  try {
    await http.listen({ port: opts.httpPort, host: opts.host, backlog: LISTEN_BACKLOG });
  } catch (err) {
    throw listenError('HTTP', '--http-port', opts.host, opts.httpPort, err);
  }
  const httpPort = (http.server.address() as AddressInfo).port;
  return { tcp, tlsServer, http, wss, mqttPort, mqttsPort, httpPort };
}
