// MQTT 3.1.1 packets written by hand (so a malformed one is as easy to make as a valid one), and
// the mutations the packet fuzzer applies to them: bit flips, truncated or oversized remaining
// lengths, bad UTF-8 topics, zero-length client ids, wrong protocol levels, duplicate CONNECTs,
// SUBSCRIBE with an invalid QoS, publishes over the payload limits, and plain noise.

/** A small seeded PRNG (xorshift32), so a failing fuzz run can be repeated from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

const str = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
};

const packet = (first: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);

export interface ConnectOpts {
  clientId: string | Buffer;
  username?: string;
  password?: string;
  level?: number;
  clean?: boolean;
  keepalive?: number;
}

export function connectPacket(o: ConnectOpts): Buffer {
  let flags = o.clean === false ? 0 : 0x02;
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(o.keepalive ?? 30);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([o.level ?? 4, flags]),
    ka,
    str(o.clientId),
    ...(o.username !== undefined ? [str(o.username)] : []),
    ...(o.password !== undefined ? [str(o.password)] : []),
  ]);
  return packet(0x10, body);
}

export function subscribePacket(id: number, subs: { topic: string | Buffer; qos: number }[]): Buffer {
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return packet(0x82, Buffer.concat([pid, ...subs.map((s) => Buffer.concat([str(s.topic), Buffer.from([s.qos])]))]));
}

export function publishPacket(topic: string | Buffer, payload: Buffer, o: { qos?: number; retain?: boolean; id?: number } = {}): Buffer {
  const qos = o.qos ?? 0;
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(o.id ?? 1);
  return packet(0x30 | (qos << 1) | (o.retain ? 1 : 0), Buffer.concat([str(topic), ...(qos > 0 ? [pid] : []), payload]));
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Invalid UTF-8 (a lone continuation byte, an overlong encoding, a surrogate, a NUL). */
const BAD_UTF8 = [
  Buffer.from([0x66, 0x62, 0x2f, 0xc3, 0x28]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from('fb/v1/d/x\u0000/evt/a', 'utf8'),
];

export function flipBits(p: Buffer, rng: Rng, flips = 1 + rng.int(4)): Buffer {
  const b = Buffer.from(p);
  for (let i = 0; i < flips; i++) {
    const at = rng.int(b.length);
    b[at] = b[at]! ^ (1 << rng.int(8));
  }
  return b;
}

/** The remaining length's last byte keeps its continuation bit: the parser waits for a byte that never fits. */
export function truncatedLength(p: Buffer): Buffer {
  return Buffer.from([p[0]!, 0xff, 0xff, 0xff]);
}

/** Announces up to 256 MB and sends a little of it. */
export function oversizedLength(p: Buffer, rng: Rng): Buffer {
  return Buffer.concat([Buffer.from([p[0]!]), remainingLength(rng.pick([20_000, 1 << 20, 268_435_455])), p.subarray(2, 64)]);
}

/** What one fuzzing socket sends after (or instead of) its CONNECT. */
export function mutatedPacket(rng: Rng, device: string): Buffer {
  const evt = `fb/v1/d/${device}/evt/fuzz`;
  switch (rng.int(11)) {
    case 0:
      return flipBits(publishPacket(evt, Buffer.from('{"n":1}')), rng);
    case 1:
      return truncatedLength(publishPacket(evt, Buffer.from('x')));
    case 2:
      return oversizedLength(publishPacket(evt, rng.bytes(64)), rng);
    case 3:
      return publishPacket(rng.pick(BAD_UTF8), Buffer.from('{}'));
    case 4:
      return subscribePacket(1 + rng.int(65535), [{ topic: `fb/v1/d/${device}/cmd`, qos: 3 }]);
    case 5:
      return subscribePacket(1 + rng.int(65535), [{ topic: rng.pick(BAD_UTF8), qos: rng.int(3) }]);
    case 6:
      // Over the evt limit (16 KiB), and over the 4 KiB limit elsewhere.
      return rng.int(2) === 0 ? publishPacket(evt, rng.bytes(17 * 1024)) : publishPacket(`fb/v1/d/${device}/ack`, rng.bytes(5 * 1024));
    case 7:
      return connectPacket({ clientId: device, username: device, password: 'again' });
    case 8:
      return publishPacket(rng.pick(['fb/v1/#', '+/+', '', `fb/v1/d/${device}/status`, 'fb/v1/a/x/req']), rng.bytes(rng.int(200)), {
        qos: rng.int(3),
        retain: rng.int(2) === 1,
      });
    case 9:
      return flipBits(subscribePacket(7, [{ topic: `fb/v1/d/${device}/config`, qos: 0 }]), rng);
    default:
      return rng.bytes(1 + rng.int(300));
  }
}

/** A CONNECT that must be refused or dropped. */
export function badConnect(rng: Rng, device: string, secret: string): Buffer {
  switch (rng.int(6)) {
    case 0:
      return connectPacket({ clientId: '', username: device, password: secret, clean: false });
    case 1:
      return connectPacket({ clientId: device, username: device, password: secret, level: rng.pick([0, 3, 5, 255]) });
    case 2:
      return flipBits(connectPacket({ clientId: device, username: device, password: secret }), rng);
    case 3:
      return truncatedLength(connectPacket({ clientId: device }));
    case 4:
      return oversizedLength(connectPacket({ clientId: device, username: device, password: secret }), rng);
    default:
      return connectPacket({
        clientId: rng.pick([Buffer.from([0xc3, 0x28]), 'x'.repeat(3000), device]),
        username: rng.pick([device, 'admin:x', 'agent:a', 'enroll']),
        password: rng.bytes(8).toString('hex'),
      });
  }
}
