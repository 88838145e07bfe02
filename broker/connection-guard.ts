// One small layer in front of aedes.handle (docs/architecture.md, Pre-login protection). Aedes'
// parser buffers a whole packet before looking at it, so a client could announce a 256 MB CONNECT
// and stream it in. This layer reads each packet's fixed header as bytes arrive and closes the
// connection as soon as a packet announces more than the limit: a few KiB before CONNACK, the
// payload limits plus header room after. It also caps unauthenticated connections per address
// and stops reading from a client whose outgoing queue is over a bound (back-pressure).
import { Duplex } from 'node:stream';
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

export class ConnectionGuard {
  private readonly pending = new Map<string, number>();
  private waiting = 0;
  constructor(
    private readonly perAddress: number,
    private readonly report: GuardEvents,
  ) {}

  /** Connections from every address that have not been through CONNECT yet. */
  get unauthenticated(): number {
    return this.waiting;
  }

  /** Returns the stream to hand to Aedes, or null when the address has too many unauthenticated connections. */
  wrap(inner: Duplex, address: string): GuardedStream | null {
    const n = this.pending.get(address) ?? 0;
    if (n >= this.perAddress) {
      this.report.overCap(address);
      inner.destroy();
      return null;
    }
    this.pending.set(address, n + 1);
    this.waiting++;
    return new GuardedStream(inner, address, this.report, () => {
      this.waiting--;
      const left = (this.pending.get(address) ?? 1) - 1;
      if (left <= 0) this.pending.delete(address);
      else this.pending.set(address, left);
    });
  }
}

export class GuardedStream extends Duplex {
  private authed = false;
  private released = false;
  /** Bytes of the fixed header read so far, and bytes of the current packet still to pass. */
  private header: number[] = [];
  private remaining = 0;
  /** This turn's bytes for the socket, and the write callback held while they are over its high-water mark. */
  private outgoing: Buffer[] = [];
  private outgoingBytes = 0;
  private heldCallback: ((err?: Error | null) => void) | null = null;

  constructor(
    private readonly inner: Duplex,
    readonly remoteAddress: string,
    private readonly report: GuardEvents,
    private readonly release: () => void,
  ) {
    super({ allowHalfOpen: false });
    inner.on('data', (chunk: Buffer) => this.onData(chunk));
    inner.on('end', () => this.push(null));
    inner.on('drain', () => this.readableLength < this.readableHighWaterMark && this.inner.resume());
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  /** Aedes sees this stream, not the socket: a TLS socket's flag must show through for the plaintext-device check. */
  get encrypted(): boolean {
    return (this.inner as { encrypted?: boolean }).encrypted === true;
  }

  /** The connection passed authentication: larger packets are allowed, and it no longer counts as pending. */
  authenticated(): void {
    this.authed = true;
    this.free();
  }

  private free(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }

  private onData(chunk: Buffer): void {
    if (!this.inspect(chunk)) {
      this.inner.destroy();
      return;
    }
    const more = this.push(chunk);
    if (!more || this.inner.writableLength > OUTGOING_BOUND) this.inner.pause();
  }

  /** Walks the packet framing; false when a packet announces more than allowed. */
  private inspect(chunk: Buffer): boolean {
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
        this.report.oversize(this.remoteAddress, length, this.authed);
        return false;
      }
      this.remaining = length;
    }
    return true;
  }

  override _read(): void {
    if (this.inner.writableLength <= OUTGOING_BOUND) this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.forward([chunk], cb);
  }

  // mqtt-packet corks the stream and writes a packet in several small pieces: they arrive here
  // together, and are copied into the socket's write once, at the turn's end.
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.forward(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  /**
   * What Aedes writes in one event-loop turn reaches the socket at the turn's end as one write:
   * each write on a socket costs a system call and a TCP segment, the largest single cost of a
   * message on loopback (docs/architecture.md, Wire contract: Pre-login protection). The callback
   * is held only while the socket's queue and the turn's bytes are over the socket's high-water
   * mark, so back-pressure still reaches Aedes.
   */
  private forward(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.outgoing.length === 0) setImmediate(this.flush);
    for (const chunk of chunks) {
      this.outgoing.push(chunk);
      this.outgoingBytes += chunk.length;
    }
    if (this.inner.writableLength + this.outgoingBytes < this.inner.writableHighWaterMark) cb();
    else this.heldCallback = cb;
  }

  /** Hands the turn's bytes to the socket; a held callback runs once the socket has room. */
  private readonly flush = (): void => {
    if (this.outgoing.length === 0) return;
    const bytes = this.outgoing.length === 1 ? this.outgoing[0]! : Buffer.concat(this.outgoing, this.outgoingBytes);
    this.outgoing = [];
    this.outgoingBytes = 0;
    const room = this.inner.destroyed || this.inner.write(bytes);
    const cb = this.heldCallback;
    if (cb === null) return;
    this.heldCallback = null;
    if (room) cb();
    else this.inner.once('drain', () => cb());
  };

  override _final(cb: (err?: Error | null) => void): void {
    this.flush();
    this.inner.end(cb);
  }

  // Aedes closes a connection right after its last packet (a refused CONNACK): that packet goes first.
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.flush();
    this.free();
    this.inner.destroy();
    cb(err);
  }
}
