// The reach-ins into upstream internals (broker/upstream/) find what they rely on in the
// installed versions, and refuse at start, naming the file to review, when it is not there.
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { Aedes, type Client } from 'aedes';
import * as assert from 'uvu/assert';
import { aedesInternals, endedWithDisconnect } from '../../broker/upstream/aedes';
import { numberAtEmit } from '../../broker/upstream/emit-order';
import { guardRecursion } from '../../broker/upstream/mq-guard';
import { connect } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite('upstream internals');

t('the installed aedes has its emitter and its clients where the broker reaches for them', async () => {
  const aedes = await Aedes.createBroker();
  const internals = aedesInternals(aedes);
  assert.type((internals.mq as { emit?: unknown }).emit, 'function');
  assert.equal(internals.clients(), []);
  await new Promise<void>((res) => aedes.close(() => res()));
});

t('an aedes without them is refused with the file to review', () => {
  assert.throws(() => aedesInternals({} as Aedes), /aedes internals changed \(mq, clients\): review broker\/upstream\/aedes\.ts/);
});

t('an emitter without the drain internals is refused with the file to review', () => {
  assert.throws(() => guardRecursion({ on() {}, emit() {} }), /mqemitter internals changed .*review broker\/upstream\/mq-guard\.ts/);
});

t('the installed aedes numbers messages where the broker renumbers them at emit; one without is refused', async () => {
  const aedes = await Aedes.createBroker();
  numberAtEmit(aedes);
  const numbered: number[] = [];
  aedes.subscribe(
    'x/#',
    (packet: { brokerCounter: number }, cb: () => void) => {
      numbered.push(packet.brokerCounter);
      cb();
    },
    () => undefined,
  );
  await new Promise<void>((res) =>
    aedes.publish({ cmd: 'publish', topic: 'x/retained', payload: Buffer.from('1'), qos: 0, retain: true, dup: false }, () => res()),
  );
  await new Promise<void>((res) =>
    aedes.publish({ cmd: 'publish', topic: 'x/plain', payload: Buffer.from('2'), qos: 0, retain: false, dup: false }, () => res()),
  );
  assert.is(numbered.length, 2);
  assert.ok(numbered[0]! < numbered[1]!, `numbers follow emit order: ${numbered}`);
  await new Promise<void>((res) => aedes.close(() => res()));
  assert.throws(() => numberAtEmit({ mq: { emit() {} } }), /aedes internals changed \(counter, id, mq\.emit\): review broker\/upstream\/emit-order\.ts/);
});

t('the installed aedes tells a DISCONNECT from a dropped socket where presence reads it', async () => {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ended = new Map<string, boolean>();
  aedes.on('clientDisconnect', (client: Client) => ended.set(client.id, endedWithDisconnect(client)));
  const [polite, dropped] = await Promise.all([
    connect(url, { clientId: 'polite', reconnectPeriod: 0 }),
    connect(url, { clientId: 'dropped', reconnectPeriod: 0 }),
  ]);
  try {
    await polite.endAsync();
    dropped.stream.destroy();
    await waitUntil(() => ended.size === 2, 5_000, 'both clients gone');
    assert.equal(Object.fromEntries(ended), { polite: true, dropped: false });
  } finally {
    polite.end(true);
    dropped.end(true);
    server.close();
    await new Promise<void>((res) => aedes.close(() => res()));
  }
});

t.run();
