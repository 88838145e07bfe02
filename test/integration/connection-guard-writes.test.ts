// The stream Aedes writes to (broker/connection-guard.ts) hands the socket what mqtt-packet wrote
// in one turn as one write: mqtt-packet writes a packet in several pieces under cork, and passing
// each piece on alone cost a system call apiece (an eighth of the broker's busy time in
// bench:claims). Real TCP sockets on loopback; the socket's write is counted, not replaced.
import { type AddressInfo, createServer, type Server, type Socket, connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import * as assert from 'uvu/assert';
import { ConnectionGuard, type GuardedStream } from '../../broker/connection-guard';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

interface Ctx {
  server: Server;
  inner: Socket;
  client: Socket;
  guarded: GuardedStream;
  writes: number;
  received: Buffer[];
}

const t = suite<Ctx>('connection guard: one socket write per turn', {} as Ctx);

t.before.each(async (c) => {
  c.writes = 0;
  c.received = [];
  const accepted = new Promise<Socket>((resolve) => {
    c.server = createServer(resolve);
  });
  await new Promise<void>((resolve) => c.server.listen(0, '127.0.0.1', resolve));
  c.client = connect((c.server.address() as AddressInfo).port, '127.0.0.1');
  c.client.on('data', (b: Buffer) => c.received.push(b));
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

t('packets written in separate turns are separate writes, each whole', async (c) => {
  for (const n of [1, 2]) {
    mqttPacket.writeToStream(publish(n), c.guarded);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const expected = Buffer.concat([1, 2].map((n) => mqttPacket.generate(publish(n))));
  await waitUntil(() => Buffer.concat(c.received).length >= expected.length, 2000, 'the client receives every byte');
  assert.is(c.writes, 2);
  assert.equal(Buffer.concat(c.received), expected);
});

t.run();
