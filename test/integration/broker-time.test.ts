// The broker is the device's clock: the config that answers a hello carries the broker's time and
// echoes the hello's sentAt, so the device can add half the round trip (the device side of this
// is in test/xs/transport-scenarios.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { TestBroker, randomMac } from '../helpers/broker';
import { connect, end, publish, subscribe, waitFor } from '../helpers/mqtt';

const test = suite('broker time for devices');
let tb: TestBroker;

test.before(async () => {
  tb = await TestBroker.start();
});
test.after(async () => tb?.stop());

test('the config answering a hello carries the broker time and echoes sentAt; a hello without sentAt gets the time alone', async () => {
  const mac = randomMac();
  const r = await tb.api('POST', '/api/devices', { mac });
  assert.is(r.status, 201, JSON.stringify(r.body));
  const id: string = r.body.id;
  const client = await connect(tb.broker.mqttUrl, { clientId: id, username: id, password: r.body.secret });
  try {
    await subscribe(client, deviceTopic(id, 'config'));
    const hello = { fw: '1', model: 'm', mac, caps: [], boot: 1, uptime: 3 };
    const before = Date.now();
    const answered = waitFor(client, (t) => t === deviceTopic(id, 'config'), 5000, 'config');
    await publish(client, deviceTopic(id, 'hello'), { ...hello, sentAt: 3_456 });
    const config = parseConfig((await answered).json);
    const after = Date.now();
    assert.is(config.time?.hello, 3_456);
    assert.ok(config.time!.now >= before && config.time!.now <= after, `time.now ${config.time!.now} within [${before}, ${after}]`);

    const plain = waitFor(client, (t) => t === deviceTopic(id, 'config'), 5000, 'config');
    await publish(client, deviceTopic(id, 'hello'), hello);
    const second = parseConfig((await plain).json);
    assert.is(second.time?.hello, undefined);
    assert.type(second.time?.now, 'number');
  } finally {
    await end(client);
  }
});

test.run();
