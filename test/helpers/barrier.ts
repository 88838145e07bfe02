// Negative checks ("nothing leaked") end with a barrier, not a sleep. Each party makes one trip
// through the broker: a sender's marker reaches its receiver only after the broker handled
// everything that sender published before it; after a flush every node has too; a receiver's
// round trip comes back only after everything the broker delivered to it before. Once the
// barrier resolves, a leaked message would already be in the receiver's log, however loaded the
// machine is.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { deviceTopic } from '../../protocol/topics';
import type { Dev, Fleet } from '../scenarios/fleet';
import { helloOf, request } from './broker';
import { publish, waitFor } from './mqtt';

export type Party =
  /** An agent: a `list` request and its answer. */
  | { agent: { client: MqttClient; id: string } }
  /** A device: hello and the config the broker answers with. */
  | { device: { client: MqttClient; dev: Dev } }
  /** A marker published by `from` on `topic`, received by `to` (which must be subscribed to it). */
  | { marker: { from: MqttClient; topic: string; to: MqttClient } };

async function trip(p: Party): Promise<void> {
  if ('agent' in p) {
    const r = await request(p.agent.client, { kind: 'agent', id: p.agent.id }, { op: 'list' });
    if (!r.ok) throw new Error(`barrier: list for ${p.agent.id} failed: ${JSON.stringify(r.error)}`);
  } else if ('device' in p) {
    const { client, dev } = p.device;
    const config = waitFor(client, (t) => t === deviceTopic(dev.id, 'config'), 5000, `barrier: config for ${dev.id}`);
    await publish(client, deviceTopic(dev.id, 'hello'), helloOf(dev));
    await config;
  } else {
    const { from, topic, to } = p.marker;
    const mark = randomBytes(6).toString('hex');
    const seen = waitFor(to, (t, j) => t === topic && j?.barrier === mark, 5000, `barrier marker on ${topic}`);
    await publish(from, topic, { barrier: mark });
    await seen;
  }
}

export async function barrier(fleet: Pick<Fleet, 'flush'>, senders: Party[], receivers: Party[]): Promise<void> {
  await Promise.all(senders.map(trip));
  await fleet.flush();
  await Promise.all(receivers.map(trip));
}
