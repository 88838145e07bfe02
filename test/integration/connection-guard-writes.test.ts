// The stream Aedes writes to (broker/connection-guard.ts) hands the socket what was written in one
// event-loop turn as one write: mqtt-packet writes a packet in several pieces under cork, and Aedes
// writes a job's answer, snapshot and binding change to one agent from separate promise steps;
// each write on the socket costs a system call and a TCP segment. What is written just before the
// stream closes or ends still goes out, back-pressure still reaches the writer, and a client that
// does not read what it is sent is no longer read from. Real TCP sockets on loopback; the socket's
// write is counted, not replaced.
import { type AddressInfo, createServer, type Server, type Socket, connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import * as assert from 'uvu/assert';
import { ConnectionGuard, type GuardedStream, OUTGOING_BOUND } from '../../broker/connection-guard';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

interface Ctx {
  server: Server;
  inner: Socket;
  client: Socket;
  guarded: GuardedStream;
  writes: number;
  received: Buffer[];
  /** Resolves when the client's end of the connection is closed. */
  closed: Promise<void>;
}

const t = suite<Ctx>('connection guard: one socket write per event-loop turn', {} as Ctx);

t.before.each(async (c) => {
  c.writes = 0;
  c.received = [];
  const accepted = new Promise<Socket>((resolve) => {
    c.server = createServer(resolve);
  });
  await new Promise<void>((resolve) => c.server.listen(0, '127.0.0.1', resolve));
  c.client = connect((c.server.address() as AddressInfo).port, '127.0.0.1');
  c.client.on('data', (b: Buffer) => c.received.push(b));
  c.closed = new Promise((resolve) => c.client.once('close', () => resolve()));
  c.inner = await accepted;
  const write = c.inner.write.bind(c.inner) as (chunk: Buffer) => boolean;
  c.inner.write = ((chunk: Buffer) => {
    c.writes++;
    return write(chunk);
  }) as Socket['write'];
  const guard = new ConnectionGuard(16, { oversize: () => undefined, overCap: () => undefined });
  const guarded = guard.wrap(c.inner, '127.0.0.1');
  assert.ok(guarded, 'the first connection of an address is let in');
  c.guarded = guarded;
});

t.after.each(async (c) => {
  c.client.destroy();
  c.guarded.destroy();
  await new Promise((resolve) => c.server.close(resolve));
});

const publish = (n: number) => ({
  cmd: 'publish' as const,
  topic: `fb/v1/dev/DEV-${n}/cmd`,
  payload: Buffer.from(JSON.stringify({ job: `job-${n}`, kind: 'identify' })),
  qos: 1 as const,
  messageId: n,
  retain: false,
  dup: false,
});

function parse(bytes: Buffer): mqttPacket.Packet[] {
  const parser = mqttPacket.parser();
  const packets: mqttPacket.Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  parser.parse(bytes);
  return packets;
}

t('three packets written in one turn reach the socket as one write, whole and in order', async (c) => {
  for (const n of [1, 2, 3]) assert.ok(mqttPacket.writeToStream(publish(n), c.guarded));
  const expected = Buffer.concat([1, 2, 3].map((n) => mqttPacket.generate(publish(n))));
  await waitUntil(() => Buffer.concat(c.received).length >= expected.length, 2000, 'the client receives every byte');
  assert.is(c.writes, 1, 'one write on the socket');
  assert.equal(Buffer.concat(c.received), expected);
  assert.equal(
    parse(Buffer.concat(c.received)).map((p) => (p as mqttPacket.IPublishPacket).messageId),
    [1, 2, 3],
  );
});

t('packets written from separate promise steps and ticks of one turn are one write', async (c) => {
  mqttPacket.writeToStream(publish(1), c.guarded);
  await Promise.resolve();
  mqttPacket.writeToStream(publish(2), c.guarded);
  await new Promise<void>((resolve) =>
    process.nextTick(() => {
      mqttPacket.writeToStream(publish(3), c.guarded);
      resolve();
    }),
  );
  const expected = Buffer.concat([1, 2, 3].map((n) => mqttPacket.generate(publish(n))));
  await waitUntil(() => Buffer.concat(c.received).length >= expected.length, 2000, 'the client receives every byte');
  assert.is(c.writes, 1, 'one write on the socket');
  assert.equal(Buffer.concat(c.received), expected);
});

t('a packet written after the last one reached the client is a write of its own', async (c) => {
  const first = mqttPacket.generate(publish(1));
  mqttPacket.writeToStream(publish(1), c.guarded);
  await waitUntil(() => Buffer.concat(c.received).length >= first.length, 2000, 'the first packet arrives');
  mqttPacket.writeToStream(publish(2), c.guarded);
  const expected = Buffer.concat([first, mqttPacket.generate(publish(2))]);
  await waitUntil(() => Buffer.concat(c.received).length >= expected.length, 2000, 'the client receives every byte');
  assert.is(c.writes, 2);
  assert.equal(Buffer.concat(c.received), expected);
});

t('a packet written just before the stream is destroyed still reaches the client', async (c) => {
  // As Aedes refuses a CONNECT: the CONNACK, then the connection closed from an immediate.
  const connack = { cmd: 'connack' as const, returnCode: 3, sessionPresent: false };
  mqttPacket.writeToStream(connack, c.guarded);
  setImmediate(() => c.guarded.destroy());
  await c.closed;
  assert.equal(Buffer.concat(c.received), mqttPacket.generate(connack));
});

t('a packet written just before the stream ends reaches the client before the end', async (c) => {
  mqttPacket.writeToStream(publish(7), c.guarded);
  c.guarded.end();
  await c.closed;
  assert.equal(Buffer.concat(c.received), mqttPacket.generate(publish(7)));
});

t('a client that stops reading holds the writer back, and everything arrives once it reads', async (c) => {
  c.client.pause();
  const big = (n: number) => ({ ...publish(n), payload: Buffer.alloc(16 * 1024, n % 251) });
  let n = 0;
  // One packet per turn, as a broker feeding a slow subscriber does, until the stream says stop.
  while (mqttPacket.writeToStream(big(++n), c.guarded)) {
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(n < 20_000, 'the writer is held back before 320 MB are queued');
  }
  const queued = c.inner.writableLength;
  assert.ok(queued <= 2 * c.inner.writableHighWaterMark + 16 * 1024 + 64, `the socket holds at most about its high-water mark (${queued} bytes)`);
  const drained = new Promise<void>((resolve) => c.guarded.once('drain', () => resolve()));
  c.client.resume();
  await drained;
  const expected = Buffer.concat(Array.from({ length: n }, (_, i) => mqttPacket.generate(big(i + 1))));
  await waitUntil(() => Buffer.concat(c.received).length >= expected.length, 10_000, 'the client receives every byte');
  assert.ok(Buffer.concat(c.received).equals(expected), 'every byte, in order');
});

t('a client that does not read what it is sent is not read from until its queue drains', async (c) => {
  c.client.pause();
  // More than the loopback socket's buffers take, so most of it waits in the socket's queue.
  c.guarded.write(Buffer.alloc(32 * 1024 * 1024, 1));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(c.inner.writableLength > OUTGOING_BOUND, `the queue towards the client is over the bound (${c.inner.writableLength} bytes)`);
  let got = 0;
  c.guarded.on('data', (b: Buffer) => (got += b.length));
  // A megabyte of PINGREQs: well-formed packets, so only the bound can hold them back.
  const pings = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < pings.length; i += 2) pings[i] = 0xc0;
  await new Promise<void>((resolve) => c.client.write(pings, () => resolve()));
  await waitUntil(() => got > 0, 2000, 'the first chunk is read');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(got <= 64 * 1024, `at most the one read that found the queue over the bound got in (${got} bytes)`);
  c.client.resume();
  await waitUntil(() => got === pings.length, 20_000, 'the rest is read once the client reads its queue');
});

t.run();
