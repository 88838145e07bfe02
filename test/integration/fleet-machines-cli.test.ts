// `npm run fleet -- machines` and `fleet settings` as a child process against a live broker: the
// table shows what the shadow holds (status, ink bars), and a setting reaches the desired state
// and the device's config.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceTopic } from '../../protocol/topics';
import { TestBroker, connectDevice, request } from '../helpers/broker';
import { end, publish, waitFor } from '../helpers/mqtt';
import { runNpmScript, type ScriptRun } from '../helpers/npm-script';
import { waitUntil } from '../helpers/wait';

const t = suite<{ broker: TestBroker }>('fleet CLI: machines and settings');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

const fleet = (broker: TestBroker, args: string[]): Promise<ScriptRun> =>
  runNpmScript('fleet', [...args, '--broker-api', broker.broker.httpUrl], { FLEETBIND_ADMIN_TOKEN: broker.adminToken });

t('machines shows status, holder and ink bars from the reported state; settings sets a desired setting the device is sent', async ({ broker }) => {
  const dev = await broker.provision(undefined, 'CT0700301');
  const agent = await broker.agent('inkshop');
  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: dev.id })).ok);
  const { client } = await connectDevice(broker.broker.mqttUrl, dev);
  await publish(client, deviceTopic(dev.id, 'state'), {
    machine: { status: 'busy', job: 'p-7' },
    consumables: { 'ink.c': { level: 100 }, 'ink.m': { level: 62 }, 'ink.y': { level: 40 }, 'ink.k': { level: 8 }, paper: { level: 55 } },
  });
  await waitUntil(async () => (await broker.api('GET', '/api/machines/CT0700301')).body.shadow?.version === 1 || undefined, 15_000, 'the shadow');

  const out = await fleet(broker, ['machines']);
  assert.is(out.code, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  assert.match(lines[0]!, /^MACHINE\s+STATUS\s+AGENT\s+JOB\s+QUEUE\s+CYAN\s+MAGENTA\s+YELLOW\s+BLACK\s+PAPER\s+ALERTS$/);
  const row = lines.find((l) => l.startsWith('CT0700301'));
  assert.ok(row, out.stdout);
  assert.match(row!, /\bbusy\b/);
  assert.match(row!, new RegExp(`\\b${agent.id}\\b`));
  assert.match(row!, /p-7/);
  assert.ok(row!.includes('█████ 100') && row!.includes('███░░  62') && row!.includes('██░░░  40') && row!.includes('░░░░░   8'), row);
  const asJson = JSON.parse((await fleet(broker, ['machines', '--json'])).stdout);
  assert.is(asJson.find((m: any) => m.code === 'CT0700301').consumables['ink.k'].level, 8);

  const config = waitFor<any>(client, (topic, j) => topic === deviceTopic(dev.id, 'config') && j.delta !== undefined, 15_000, 'config with the delta');
  const set = await fleet(broker, ['settings', dev.id, 'display.brightness=35']);
  assert.is(set.code, 0, set.stderr);
  assert.match(set.stdout, /desired settings version 1; waiting for the device to apply display\.brightness=35/);
  assert.equal((await config).json.delta, { version: 1, settings: { 'display.brightness': 35 } });

  for (const bad of [
    ['settings', dev.id, 'display.brightness=bright'],
    ['settings', dev.id, 'wifi.psk=x'],
    ['settings', dev.id, 'nonsense'],
  ]) {
    const r = await fleet(broker, bad);
    assert.is(r.code, 2, `${bad.join(' ')}: ${r.stdout}`);
    assert.is(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('fleet: ')).length,
      1,
      r.stderr,
    );
  }
  await end(agent.client, client);
});

t.run();
