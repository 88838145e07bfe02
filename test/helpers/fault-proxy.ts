// A TCP proxy that a test controls, to break the network between clients and the broker on
// purpose: drop one client's connection (as a Wi-Fi loss would: no DISCONNECT, no FIN from the
// client), drop all of them, or delay every byte in both directions. Its target can move, so
// clients keep one address while the broker behind it restarts on a new port.
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';
import { once } from 'node:events';

interface Pipe { client: Socket; upstream: Socket }

/** Bytes for one direction, held until their due time; order is kept whatever the delay. */
class DelayLine {
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly out: Socket,
    private readonly delayMs: () => number,
  ) {}

  push(chunk: Buffer): void {
    const delay = this.delayMs();
    if (delay === 0 && this.queue.length === 0) {
      this.out.write(chunk);
      return;
    }
    this.queue.push({ due: Date.now() + delay, chunk });
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      while (this.queue.length > 0 && this.queue[0]!.due <= now) this.out.write(this.queue.shift()!.chunk);
      this.arm();
    }, Math.max(0, this.queue[0]!.due - Date.now()));
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

export class FaultProxy {
  private readonly pipes = new Set<Pipe>();
  private delay = 0;
  /** Counts of faults injected, for the run's figures. */
  readonly injected = { drops: 0, delays: 0 };

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

  /** Every byte in both directions waits this long (0: none). */
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
