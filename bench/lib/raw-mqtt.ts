// A bare MQTT 3.1.1 client for load generators: it writes packets the caller built once (or
// spliced from pre-built pieces) straight to the socket and parses only what comes back. mqtt.js
// spends several times the broker's own CPU per message on streams, packet objects and callbacks;
// a thousand of them in one generator process become the bottleneck the benchmark then measures.
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectOpts, DISCONNECT, connectPacket, publishPacket, subscribePacket } from '../../test/fuzz/packets';

const CONNACK = 2;
const PUBLISH = 3;
const SUBACK = 9;

export class RawClient {
  /** Every PUBLISH the broker delivers. */
  onPublish: (topic: string, payload: Buffer) => void = () => undefined;
  private rest: Buffer | null = null;
  private nextId = 1;
  private readonly subacks = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private connack: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private closed: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Opens a connection and resolves once the broker accepts it (CONNACK 0). */
  static connect(url: string, o: ConnectOpts, timeoutMs = 60_000): Promise<RawClient> {
    const u = new URL(url);
    const socket = netConnect({ host: u.hostname, port: Number(u.port || 1883) });
    const c = new RawClient(socket);
    return new Promise<RawClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no CONNACK from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      c.connack = {
        resolve: () => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      socket.write(connectPacket({ keepalive: 0, ...o }));
    });
  }

  /** Writes one or more whole packets. */
  write(packet: Buffer): void {
    this.socket.write(packet);
  }

  publish(topic: string, payload: string | Buffer, retain = false): void {
    this.socket.write(publishPacket(topic, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, { retain }));
  }

  /** Subscribes at QoS 0 and resolves on a SUBACK that granted every topic. */
  subscribe(topics: string[]): Promise<void> {
    const id = this.nextId++;
    if (this.nextId > 0xffff) this.nextId = 1;
    return new Promise<void>((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      this.subacks.set(id, { resolve, reject });
      this.socket.write(
        subscribePacket(
          id,
          topics.map((topic) => ({ topic, qos: 0 })),
        ),
      );
    });
  }

  /** Disconnects cleanly (the will is discarded) and waits for the socket to close. */
  end(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(DISCONNECT);
    });
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    this.connack?.reject(err);
    this.connack = null;
    for (const s of this.subacks.values()) s.reject(err);
    this.subacks.clear();
  }

  private read(chunk: Buffer): void {
    const buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    let at = 0;
    while (buf.length - at >= 2) {
      // Remaining length: up to four bytes, seven bits each, low first.
      let len = 0;
      let mult = 1;
      let i = at + 1;
      let complete = false;
      for (; i < buf.length && i < at + 5; i++) {
        len += (buf[i]! & 0x7f) * mult;
        mult *= 128;
        if ((buf[i]! & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || buf.length - i < len) break;
      this.packet(buf[at]!, buf.subarray(i, i + len));
      at = i + len;
    }
    if (at < buf.length) this.rest = buf.subarray(at);
  }

  private packet(first: number, body: Buffer): void {
    const type = first >> 4;
    if (type === PUBLISH) {
      const qos = (first >> 1) & 3;
      const topicLen = body.readUInt16BE(0);
      const topic = body.toString('utf8', 2, 2 + topicLen);
      let payloadAt = 2 + topicLen;
      if (qos > 0) {
        // Acknowledge so the broker does not resend; the load runs at QoS 0 anyway.
        this.socket.write(Buffer.from([qos === 1 ? 0x40 : 0x50, 2, body[payloadAt]!, body[payloadAt + 1]!]));
        payloadAt += 2;
      }
      this.onPublish(topic, body.subarray(payloadAt));
    } else if (type === CONNACK) {
      const rc = body[1]!;
      if (rc === 0) this.connack?.resolve();
      else this.connack?.reject(new Error(`CONNACK return code ${rc}`));
      this.connack = null;
    } else if (type === SUBACK) {
      const s = this.subacks.get(body.readUInt16BE(0));
      if (!s) return;
      this.subacks.delete(body.readUInt16BE(0));
      if (body.subarray(2).includes(0x80)) s.reject(new Error('the broker refused a subscription'));
      else s.resolve();
    }
  }
}

/** Splices a changing piece (a request or job id) between two pre-built halves of a PUBLISH. */
export function splicer(topic: string, before: string, after: string): (id: string) => Buffer {
  const t = Buffer.from(topic, 'utf8');
  const head = Buffer.concat([Buffer.alloc(2), t, Buffer.from(before, 'utf8')]);
  head.writeUInt16BE(t.length, 0);
  const tail = Buffer.from(after, 'utf8');
  return (id: string): Buffer => {
    const mid = Buffer.from(id, 'utf8');
    const len = head.length + mid.length + tail.length;
    // Remaining length as MQTT's variable-length integer (these packets stay under 2 MiB).
    const rl = len < 128 ? [len] : len < 16384 ? [(len & 0x7f) | 0x80, len >> 7] : [(len & 0x7f) | 0x80, ((len >> 7) & 0x7f) | 0x80, len >> 14];
    return Buffer.concat([Buffer.from([0x30, ...rl]), head, mid, tail]);
  };
}
