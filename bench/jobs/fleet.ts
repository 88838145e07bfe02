// The fleet the jobs benchmarks drive: devices (mqtt.js clients that answer every cmd at once:
// accepted, then done) and agents that each claim a share of them and watch their queues.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Cmd } from '../../protocol/messages';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { connectAgent, connectDevice, randomMac } from '../../test/helpers/broker';
import type { BrokerProcess } from '../../test/helpers/broker-process';
import { publish, subscribe } from '../../test/helpers/mqtt';
import type { Dev } from '../../test/scenarios/fleet';

export const log = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Runs fn over items with at most `limit` at once, reporting progress every 2 s. */
export async function pool<T, R>(what: string, items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const timer = setInterval(() => log(`${what}: ${done}/${items.length}`), 2000);
  try {
    await Promise.all(
      Array.from({ length: Math.min(limit, items.length) }, async () => {
        while (next < items.length) {
          const i = next++;
          out[i] = await fn(items[i]!, i);
          done++;
        }
      }),
    );
  } finally {
    clearInterval(timer);
  }
  log(`${what}: ${done}/${items.length} done`);
  return out;
}

/** A device that answers every cmd at once, as the firmware would for an instant job; onCmd sees each new job arrive. */
export async function answeringDevice(url: string, d: Dev, onCmd?: (job: string) => void): Promise<MqttClient> {
  const { client } = await connectDevice(url, d, { caps: ['identify'] });
  const cmdTopic = deviceTopic(d.id, 'cmd');
  const ack = deviceTopic(d.id, 'ack');
  client.on('message', (topic, payload) => {
    if (topic !== cmdTopic) return;
    const cmd = JSON.parse(payload.toString('utf8')) as Cmd;
    if (cmd.cancel || cmd.complete) return;
    onCmd?.(cmd.job);
    client.publish(ack, JSON.stringify({ job: cmd.job, state: 'accepted' }));
    client.publish(ack, JSON.stringify({ job: cmd.job, state: 'done' }));
  });
  return client;
}

export interface AgentLogin {
  id: string;
  token: string;
}
export interface AgentRun {
  client: MqttClient;
  id: string;
  devices: string[];
}
export interface Fleet {
  devs: Dev[];
  agents: AgentLogin[];
}

/** Registers the devices and agents; agent i gets every device j with j % agents === i. */
export async function provisionFleet(bp: BrokerProcess, devices: number, agents: number): Promise<Fleet> {
  const devs = await pool('provisioning devices', Array.from({ length: devices }), 16, async (): Promise<Dev> => {
    const mac = randomMac();
    const r = await bp.api('POST', '/api/devices', { mac, model: 'bench' });
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, secret: r.body.secret, mac };
  });
  const logins = await pool(
    'creating and logging in agents',
    Array.from({ length: agents }, (_, i) => `bench-${i}`),
    8,
    async (id) => {
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const created = await bp.api('POST', '/api/agents', { id, name: id, password });
      if (created.status !== 201) throw new Error(`creating agent ${id} failed: ${created.status} ${JSON.stringify(created.body)}`);
      const login = await bp.api('POST', '/api/login', { id, password }, undefined);
      if (login.status !== 200) throw new Error(`login ${id} failed: ${login.status}`);
      return { id, token: login.body.token as string };
    },
  );
  return { devs, agents: logins };
}

export async function claimOne(client: MqttClient, agent: string, device: string): Promise<void> {
  const rid = `claim-${device}`;
  const answered = new Promise<any>((resolve) => {
    const on = (topic: string, payload: Buffer): void => {
      const body = JSON.parse(payload.toString('utf8'));
      if (topic === agentTopic(agent, 'res') && body.id === rid) {
        client.removeListener('message', on);
        resolve(body);
      }
    };
    client.on('message', on);
  });
  await publish(client, agentTopic(agent, 'req'), { id: rid, op: 'claim', target: device });
  const res = await answered;
  // Claiming again after a restart answers ok (already the agent's).
  if (!res.ok) throw new Error(`claim of ${device} by ${agent} failed: ${JSON.stringify(res.error)}`);
}

/** Connects every device and agent; each agent claims its share and watches their queues. */
export async function connectFleet(bp: BrokerProcess, fleet: Fleet, clients: MqttClient[]): Promise<AgentRun[]> {
  clients.push(...(await pool('connecting devices', fleet.devs, 50, (d) => answeringDevice(bp.mqttUrl, d))));
  return pool('connecting agents and claiming', fleet.agents, 20, async (a, i) => {
    const client = await connectAgent(bp.mqttUrl, a.id, a.token);
    clients.push(client);
    const mine = fleet.devs.filter((_, j) => j % fleet.agents.length === i).map((d) => d.id);
    for (const device of mine) await claimOne(client, a.id, device);
    await subscribe(
      client,
      mine.map((d) => deviceTopic(d, 'jobs')),
    );
    return { client, id: a.id, devices: mine };
  });
}
