// A device's config never goes back to an older holder (docs/architecture.md, Topic tree:
// config). A hello answers with the row its own UPDATE returned, and a claim committed after that
// row (in the same group commit) sends its config too: a config built from a row older than the
// binding map is read again before it goes out, so the last one the device hears names the agent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { parseConfig } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { publishConfigOf } from '../../broker/publisher';
import { getDevice } from '../../broker/store/devices';
import { TestBroker, connectDevice } from '../helpers/broker';
import { claim } from '../helpers/jobs';
import { end, recorder } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

let tb: TestBroker;
const clients: MqttClient[] = [];
const t = suite('config order');
t.before(async () => {
  tb = await TestBroker.start();
});
t.after.each(async () => {
  await end(...clients.splice(0));
});
t.after(async () => {
  await tb.stop();
});

t('a config from a row read before a claim is read again, and names the agent', async () => {
  const d = await tb.provision();
  const { client } = await connectDevice(tb.broker.mqttUrl, d);
  clients.push(client);
  const configs = recorder(client);
  const agentOf = (): unknown[] => configs.filter((m) => m.topic === deviceTopic(d.id, 'config')).map((m) => parseConfig(m.json).agent?.id ?? null);

  const before = await getDevice(tb.broker.ctx.db, d.id);
  assert.is(before?.agent_id, null);
  const agent = await tb.agent('config-order-agent');
  clients.push(agent.client);
  await claim(agent, d.id);
  await waitUntil(() => agentOf().at(-1) === agent.id, 5000, "the claim's config");

  await publishConfigOf(tb.broker.ctx, before!);
  await waitUntil(() => agentOf().length >= 2, 5000, 'the config built from the older row');
  assert.equal(agentOf(), [agent.id, agent.id], 'no config went back to no holder');
  const last = parseConfig(configs.filter((m) => m.topic === deviceTopic(d.id, 'config')).at(-1)!.json);
  assert.is(last.claimCode, undefined, 'a claimed device shows no claim code');
});

t.run();
