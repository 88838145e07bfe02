// One small layer in front of aedes.handle (docs/architecture.md, Pre-login protection). Aedes'
// parser buffers a whole packet before looking at it, so a client could announce a 256 MB CONNECT
// and stream it in. This layer reads each packet's fixed header as bytes arrive and closes the
// connection as soon as a packet announces more than the limit: a few KiB before CONNACK, the
// payload limits plus header room after. It also caps unauthenticated connections per address,
// stops reading from a client whose outgoing queue is over a bound (back-pressure), and gathers
// what Aedes writes to a connection in one event-loop turn into one write.
//
// It guards the connection's own stream in place, through the hooks every Node stream calls
// (push, _read, write, destroy), rather than as a stream between the socket and Aedes: a second
// stream per connection doubled the stream machinery every packet went through, and with it
// about a fifth of the broker's CPU in a connect storm.
import type { Duplex } from 'node:stream';
import { PAYLOAD_LIMIT_EVT } from '../protocol/topics';

/** Before CONNACK: a CONNECT with a long client id, username, password and will still fits. */
export const PRE_AUTH_PACKET_MAX = 8 * 1024;
/** After CONNACK: the largest payload (evt) plus room for topic and header. */
export const POST_AUTH_PACKET_MAX = PAYLOAD_LIMIT_EVT + 2 * 1024;
/** A socket that has not sent CONNECT by then is closed (Aedes' connectTimeout). */
export const CONNECT_DEADLINE_MS = 10_000;
/** Bytes queued towards a client before reading from it pauses. */
export const OUTGOING_BOUND = 1024 * 1024;

export interface GuardEvents {
  oversize(address: string, announced: number, authenticated: boolean): void;
  overCap(address: string): void;
}

type WriteCallback = (err?: Error | null) => void;

export class ConnectionGuard {
  private readonly pending = new Map<string, number>();
  private readonly guards = new WeakMap<Duplex, Guard>();
  private waiting = 0;
  constructor(
    private readonly perAddress: number,
    private readonly report: GuardEvents,
  ) {}

  /** Connections from every address that have not been through CONNECT yet. */
  get unauthenticated(): number {
    return this.waiting;
  }

  /** Guards the stream and returns it for Aedes, or null (the stream destroyed) when the address has too many unauthenticated connections. */
  wrap<S extends Duplex>(stream: S, address: string): S | null {
    const n = this.pending.get(address) ?? 0;
    if (n >= this.perAddress) {
      this.report.overCap(address);
      stream.destroy();
      return null;
    }
    this.pending.set(address, n + 1);
    this.waiting++;
    const guard = new Guard(stream, address, this.report, () => {
      this.waiting--;
      const left = (this.pending.get(address) ?? 1) - 1;
      if (left <= 0) this.pending.delete(address);
      else this.pending.set(address, left);
    });
    this.guards.set(stream, guard);
    return stream;
  }

  /** The connection passed authentication: larger packets are allowed, and it no longer counts as pending. */
  authenticated(stream: unknown): void {
    this.guards.get(stream as Duplex)?.authenticated();
  }
}

/** One connection's guard: where its packet framing stands, and the turn's gathered writes. */
class Guard {
  private authed = false;
  private released = false;
  /** Bytes of the fixed header read so far, and bytes of the current packet still to pass. */
  private header: number[] = [];
  private remaining = 0;
  /** The stream is corked until the turn's end, and reading waits for its queue to drain. */
  private gathering = false;
  private awaitingDrain = false;

  constructor(
    private readonly stream: Duplex,
    private readonly address: string,
    private readonly report: GuardEvents,
    private readonly release: () => void,
  ) {
    const push = stream.push;
    const read = stream._read;
    const write = stream.write;
    const destroy = stream.destroy;
    // The socket hands each chunk it reads to push: a chunk that announces too much never gets in,
    // and false (stop reading) goes back while the client's outgoing queue is over the bound.
    stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null && chunk !== undefined && !(chunk instanceof Uint8Array && this.inspect(chunk))) {
        stream.destroy();
        return false;
      }
      return push.call(stream, chunk, encoding) && stream.writableLength <= OUTGOING_BOUND;
    };
    stream._read = (size: number): void => {
      if (stream.writableLength <= OUTGOING_BOUND) return read.call(stream, size);
      if (this.awaitingDrain) return;
      this.awaitingDrain = true;
      stream.once('drain', () => {
        this.awaitingDrain = false;
        stream._read(size);
      });
    };
    stream.write = ((...args: Parameters<Duplex['write']>): boolean => {
      this.gather();
      return write.apply(stream, args);
    }) as Duplex['write'];
    // Aedes destroys a connection right after its last packet (a refused CONNACK): that packet goes first.
    stream.destroy = (err?: Error): Duplex => {
      this.gathering = false;
      while (stream.writableCorked > 0) stream.uncork();
      this.free();
      return destroy.call(stream, err);
    };
    // A WebSocket stream writes each buffered piece as a frame of its own; the turn's pieces go as one.
    const s = stream as Duplex & { _writev?: Duplex['_writev'] };
    if (s._writev === undefined || s._writev === null)
      s._writev = (chunks: { chunk: Buffer }[], cb: WriteCallback): void =>
        stream._write(Buffer.concat(chunks.map((c) => c.chunk)), 'buffer' as BufferEncoding, cb);
    stream.once('close', () => this.free());
  }

  authenticated(): void {
    this.authed = true;
    this.free();
  }

  private free(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }

  /**
   * What Aedes writes in one event-loop turn reaches the socket at the turn's end as one write:
   * each write on a socket costs a system call and a TCP segment, the largest single cost of a
   * message on loopback (docs/architecture.md, Pre-login protection). mqtt-packet corks the stream
   * for each packet's pieces until the next tick; this holds one cork more until the turn's end.
   * A corked write still answers false over the high-water mark, so back-pressure reaches Aedes.
   */
  private gather(): void {
    if (this.gathering) return;
    this.gathering = true;
    this.stream.cork();
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    if (!this.gathering) return;
    this.gathering = false;
    this.stream.uncork();
  };

  /** Walks the packet framing; false when a packet announces more than allowed. */
  private inspect(chunk: Uint8Array): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      const byte = chunk[i++]!;
      this.header.push(byte);
      if (this.header.length === 1 || (byte & 0x80) !== 0) {
        if (this.header.length > 5) return false;
        continue;
      }
      let length = 0;
      for (let k = this.header.length - 1; k >= 1; k--) length = length * 128 + (this.header[k]! & 0x7f);
      this.header = [];
      const max = this.authed ? POST_AUTH_PACKET_MAX : PRE_AUTH_PACKET_MAX;
      if (length > max) {
        this.report.oversize(this.address, length, this.authed);
        return false;
      }
      this.remaining = length;
    }
    return true;
  }
}
