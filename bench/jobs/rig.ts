// The jobs benchmarks' load on raw MQTT clients (bench/lib/raw-mqtt.ts), so the generator stays far
// cheaper than the broker it measures: devices that answer every cmd at once (accepted, then
// done) and agents that each claim a share of them and watch their queues. A JobRig hides whose
// broker it is: fleetbind here, or the same messages over a bare broker (peer-rig.ts).
import { randomBytes } from 'node:crypto';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { helloOf } from '../../test/helpers/broker';
import type { BrokerProcess } from '../../test/helpers/broker-process';
import type { Dev } from '../../test/scenarios/fleet';
import { afterSetupStorm } from '../lib/after-storm';
import { brokerCounters } from '../lib/broker-counters';
import { RawClient, splicer } from '../lib/raw-mqtt';
import { type AgentLogin, type Fleet, log, pool } from './fleet';

export type Outcome = 'done' | 'failed' | 'refused';
export type Ended = (outcome: Outcome, at: number, cmdAt?: number) => void;

/** When each job's cmd reached its device (performance.now()), until the agent sees it end. */
export class CmdTimes {
  private readonly at = new Map<string, number>();

  seen(job: string): void {
    this.at.set(job, performance.now());
  }

  take(job: string): number | undefined {
    const at = this.at.get(job);
    this.at.delete(job);
    return at;
  }
}

/** A broker with devices that answer at once and agents that submit to them. */
export interface JobRig {
  name: string;
  /** The broker process, whose CPU time the benchmark reads. */
  pid: number;
  devices: string[];
  /** SQL statements the broker has run so far, where it counts them (fleetbind on SQLite). */
  statements?: () => Promise<number>;
  /**
   * Submits one job; `ended` is called once, when the agent sees how it ended (or that it was
   * refused), with when its cmd reached the device if it did.
   */
  submit(device: string, ended: Ended): void;
  close(): Promise<void>;
}

/** A device that answers every cmd at once, as the firmware would for an instant job. */
async function answeringDevice(url: string, d: Dev, cmds: CmdTimes): Promise<RawClient> {
  const c = await RawClient.connect(url, { clientId: d.id, username: d.id, password: d.secret });
  const cmdTopic = deviceTopic(d.id, 'cmd');
  const configTopic = deviceTopic(d.id, 'config');
  const accepted = splicer(deviceTopic(d.id, 'ack'), '{"job":"', '","state":"accepted"}');
  const done = splicer(deviceTopic(d.id, 'ack'), '{"job":"', '","state":"done"}');
  let configured: () => void = () => undefined;
  const config = new Promise<void>((r) => (configured = r));
  c.onPublish = (topic, payload) => {
    if (topic === configTopic) return configured();
    if (topic !== cmdTopic) return;
    const cmd = JSON.parse(payload.toString('utf8')) as { job: string; cancel?: boolean; complete?: boolean };
    if (cmd.cancel || cmd.complete) return;
    cmds.seen(cmd.job);
    c.write(Buffer.concat([accepted(cmd.job), done(cmd.job)]));
  };
  await c.subscribe([configTopic, cmdTopic]);
  c.publish(deviceTopic(d.id, 'status'), '{"state":"online"}', true);
  c.publish(deviceTopic(d.id, 'hello'), JSON.stringify(helloOf(d, ['identify'])));
  await config;
  return c;
}

interface Agent {
  id: string;
  client: RawClient;
  devices: string[];
  /** Answers on the agent's res topic, by request id. */
  answers: Map<string, (body: any) => void>;
  /** Each snapshot on one of the agent's devices' jobs topics. */
  onSnapshot: (snap: { device: string; ended?: { job: string; state: string }[] }, at: number) => void;
}

async function connectAgent(url: string, login: AgentLogin, devices: string[]): Promise<Agent> {
  const client = await RawClient.connect(url, {
    clientId: `agent:${login.id}:${randomBytes(3).toString('hex')}`,
    username: `agent:${login.id}`,
    password: login.token,
  });
  const res = agentTopic(login.id, 'res');
  const a: Agent = { id: login.id, client, devices, answers: new Map(), onSnapshot: () => undefined };
  client.onPublish = (topic, payload) => {
    const at = performance.now();
    const body = JSON.parse(payload.toString('utf8'));
    if (topic === res) {
      const answer = a.answers.get(body.id);
      a.answers.delete(body.id);
      answer?.(body);
    } else if (topic.endsWith('/jobs')) a.onSnapshot(body, at);
  };
  await client.subscribe([res]);
  for (const device of devices) {
    const rid = `claim-${device}`;
    const answered = new Promise<any>((resolve) => a.answers.set(rid, resolve));
    client.publish(agentTopic(login.id, 'req'), JSON.stringify({ id: rid, op: 'claim', target: device }));
    // Claiming again after a restart answers ok (already the agent's).
    const r = await answered;
    if (!r.ok) throw new Error(`claim of ${device} by ${login.id} failed: ${JSON.stringify(r.error)}`);
  }
  if (devices.length > 0) await client.subscribe(devices.map((d) => deviceTopic(d, 'jobs')));
  return a;
}

/** Connects every device and agent of the fleet; each agent claims its share and watches their queues. */
export async function fleetbindRig(bp: BrokerProcess, fleet: Fleet): Promise<JobRig> {
  const url = bp.mqttUrl;
  const cmds = new CmdTimes();
  const devices = await pool('connecting devices', fleet.devs, 50, (d) => answeringDevice(url, d, cmds));
  const agents = await pool('connecting agents and claiming', fleet.agents, 20, (login, i) =>
    connectAgent(
      url,
      login,
      fleet.devs.filter((_, j) => j % fleet.agents.length === i).map((d) => d.id),
    ),
  );
  await afterSetupStorm(bp, devices.length + agents.length, log);
  const submitters = new Map<string, (ended: Ended) => void>();
  for (const a of agents) {
    let seq = 0;
    /** Submits answered, by job id, waiting for the snapshot that shows them ended. */
    const waiting = new Map<string, Ended>();
    /** Ends seen in a snapshot before the submit's answer named the job. */
    const early = new Map<string, { outcome: Outcome; at: number }>();
    a.onSnapshot = (snap, at) => {
      for (const e of snap.ended ?? []) {
        const outcome: Outcome = e.state === 'done' ? 'done' : 'failed';
        const w = waiting.get(e.job);
        if (!w) {
          early.set(e.job, { outcome, at });
          continue;
        }
        waiting.delete(e.job);
        w(outcome, at, cmds.take(e.job));
      }
    };
    const req = agentTopic(a.id, 'req');
    for (const device of a.devices) {
      const packet = splicer(req, '{"id":"', `","op":"submit","device":"${device}","kind":"identify","params":{"seconds":1}}`);
      submitters.set(device, (ended) => {
        const id = `s${++seq}`;
        a.answers.set(id, (body) => {
          if (!body.ok) return ended('refused', performance.now());
          const e = early.get(body.result.job);
          if (!e) return waiting.set(body.result.job, ended);
          early.delete(body.result.job);
          ended(e.outcome, e.at, cmds.take(body.result.job));
        });
        a.client.write(packet(id));
      });
    }
  }
  return {
    name: 'fleetbind',
    pid: bp.child.pid!,
    devices: fleet.devs.map((d) => d.id),
    statements: async () => (await brokerCounters(bp)).sql,
    submit: (device, ended) => submitters.get(device)!(ended),
    close: async () => {
      await Promise.all([...devices, ...agents.map((a) => a.client)].map((c) => c.end()));
    },
  };
}
