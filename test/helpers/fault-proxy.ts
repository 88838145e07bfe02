// A TCP proxy that a test controls, to break the network between clients and the broker on
// purpose: drop one client's connection (as a Wi-Fi loss would: no DISCONNECT, no FIN from the
// client), drop all of them, hold bytes in both directions and deliver them merged, or cut every
// connection and refuse new ones for a while (an outage of the server behind it, which may be
// PostgreSQL or Redis as well as the broker). Its target can move, so clients keep one address
// while the broker behind it restarts on a new port.
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';
import { once } from 'node:events';

interface Pipe {
  client: Socket;
  upstream: Socket;
}

/**
 * Bytes for one direction, held for up to the delay and then delivered together in one write, as
 * a slow link that also merges segments does: the receiver then reads several packets at once.
 * Order is kept whatever the delay.
 */
class DelayLine {
  private readonly held: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly out: Socket,
    private readonly delayMs: () => number,
  ) {}

  push(chunk: Buffer): void {
    const delay = this.delayMs();
    if (delay === 0 && this.held.length === 0) {
      this.out.write(chunk);
      return;
    }
    this.held.push(chunk);
    this.timer ??= setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    this.timer = null;
    this.out.write(Buffer.concat(this.held.splice(0)));
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.held.length = 0;
  }
}

export class FaultProxy {
  private readonly pipes = new Set<Pipe>();
  private delay = 0;
  private refusing = false;
  /** Counts of faults injected, for the run's figures. */
  readonly injected = { drops: 0, delays: 0, outages: 0 };

  private constructor(
    private readonly server: Server,
    private targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<FaultProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new FaultProxy(server, targetPort);
    server.on('connection', (client) => proxy.accept(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** New connections go to this port from now on (the broker restarted elsewhere). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** Bytes in both directions are held up to this long and then delivered together (0: at once). */
  setDelay(ms: number): void {
    if (ms > 0) this.injected.delays++;
    this.delay = ms;
  }

  /**
   * Cuts the connection whose client side uses this local port: both sockets are destroyed, so
   * the broker sees a socket error and the client a close, with nothing said on either side.
   * Returns whether such a connection was open.
   */
  drop(clientLocalPort: number): boolean {
    for (const p of this.pipes) {
      if (p.client.remotePort === clientLocalPort) {
        this.cut(p);
        this.injected.drops++;
        return true;
      }
    }
    return false;
  }

  /**
   * Starts an outage (every connection cut, new ones closed as soon as they are accepted, so the
   * client sees its connection reset) or ends it (new connections go through again).
   */
  outage(on: boolean): void {
    if (on && !this.refusing) this.injected.outages++;
    this.refusing = on;
    if (on) this.dropAll();
  }

  dropAll(): void {
    for (const p of [...this.pipes]) this.cut(p);
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private cut(p: Pipe): void {
    this.pipes.delete(p);
    p.client.destroy();
    p.upstream.destroy();
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort, noDelay: true });
    const pipe: Pipe = { client, upstream };
    this.pipes.add(pipe);
    const toBroker = new DelayLine(upstream, () => this.delay);
    const toClient = new DelayLine(client, () => this.delay);
    client.on('data', (d: Buffer) => toBroker.push(d));
    upstream.on('data', (d: Buffer) => toClient.push(d));
    const end = (): void => {
      toBroker.clear();
      toClient.clear();
      this.cut(pipe);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
