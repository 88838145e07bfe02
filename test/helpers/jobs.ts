// Job-test plumbing: an agent bound to a scripted device, watching the device's queue snapshots,
// plus submit/cancel calls and waits on a job's stored state.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { JobsSnapshot } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { type Suite, suite } from './suite';
import type { BrokerOptions } from '../../broker/config';
import { TestBroker, request } from './broker';
import { JobDevice, type JobDeviceOptions } from './job-device';
import { end, subscribe } from './mqtt';
import { waitUntil } from './wait';

export interface Agent {
  client: MqttClient;
  id: string;
  token: string;
}

/** A broker in this process (TestBroker) or a child process (BrokerProcess). */
export type HasApi = Pick<TestBroker, 'api' | 'adminToken'>;

export interface Watch {
  agent: Agent;
  device: JobDevice;
  /** Every queue snapshot the agent received for the device, in order. */
  snapshots: JobsSnapshot[];
}

export const uniq = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function claim(agent: Agent, device: string): Promise<void> {
  const r = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: device });
  if (!r.ok) throw new Error(`claim of ${device} by ${agent.id} failed: ${JSON.stringify(r.error)}`);
}

/** Starts recording the device's queue snapshots as this agent receives them. */
export async function watchJobs(agent: Agent, device: string): Promise<JobsSnapshot[]> {
  const snapshots: JobsSnapshot[] = [];
  const topic = deviceTopic(device, 'jobs');
  agent.client.on('message', (t, payload) => {
    if (t === topic) snapshots.push(JSON.parse(payload.toString('utf8')) as JobsSnapshot);
  });
  await subscribe(agent.client, topic);
  return snapshots;
}

/** A fresh agent that claims a fresh device (connected and scripted) and watches its queue. */
export async function boundDevice(tb: TestBroker, opts: JobDeviceOptions = {}, agent?: Agent): Promise<Watch> {
  const dev = await tb.provision();
  const device = await JobDevice.connect(tb.broker.mqttUrl, dev, opts);
  const a = agent ?? (await tb.agent(uniq('ag')));
  await claim(a, dev.id);
  return { agent: a, device, snapshots: await watchJobs(a, dev.id) };
}

export function submit(agent: Agent, body: Record<string, unknown>): Promise<any> {
  return request(agent.client, { kind: 'agent', id: agent.id }, { op: 'submit', ...body });
}

export function cancel(agent: Agent, job: string): Promise<any> {
  return request(agent.client, { kind: 'agent', id: agent.id }, { op: 'cancel', job });
}

/** Submits and expects it queued; returns the job id. */
export async function submitOk(agent: Agent, body: Record<string, unknown>): Promise<string> {
  const r = await submit(agent, body);
  if (!r.ok) throw new Error(`submit failed: ${JSON.stringify(r.error)}`);
  return r.result.job as string;
}

export const identify = (device: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  device,
  kind: 'identify',
  params: { seconds: 1 },
  ...extra,
});

/** The job as REST shows it to `token`, once its state is one of `states`. */
export async function jobIn(tb: HasApi, id: string, states: string[], token = tb.adminToken, timeoutMs = 10_000): Promise<any> {
  let last: string | undefined;
  const job = async (): Promise<any> => {
    const r = await tb.api('GET', `/api/jobs/${id}`, undefined, token);
    if (r.status !== 200) throw new Error(`GET /api/jobs/${id} answered ${r.status} ${JSON.stringify(r.body)}`);
    last = r.body.state;
    return states.includes(r.body.state) && r.body;
  };
  return waitUntil(job, timeoutMs, () => `job ${id} to be ${states.join(' or ')} (it is ${last})`, 20);
}

/** A device's jobs as REST lists them to `token` (newest first), once `ready` holds for the list. */
export async function jobsWhen(tb: HasApi, device: string, ready: (jobs: any[]) => boolean, token = tb.adminToken, timeoutMs = 10_000): Promise<any[]> {
  let last: any[] = [];
  const jobs = async (): Promise<any[] | false> => {
    const r = await tb.api('GET', `/api/jobs?device=${device}&limit=1000`, undefined, token);
    if (r.status !== 200) throw new Error(`GET /api/jobs answered ${r.status} ${JSON.stringify(r.body)}`);
    last = r.body;
    return ready(r.body) && r.body;
  };
  return waitUntil(jobs, timeoutMs, () => `the jobs of ${device}; they are ${last.map((j) => j.state).join(',')}`, 25);
}

/** Resolves once the broker no longer sees the device online (the drop was noticed). */
export async function waitNotOnline(tb: HasApi, device: string, timeoutMs = 5000): Promise<void> {
  const notOnline = async (): Promise<boolean> => {
    const r = await tb.api('GET', `/api/devices/${device}`);
    return r.status === 200 && r.body.presence.state !== 'online';
  };
  await waitUntil(notOnline, timeoutMs, `device ${device} not to be online`, 20);
}

/** A suite's broker and the devices and agents its tests opened, closed after each test. */
export class JobEnv {
  private broker: TestBroker | null = null;
  private readonly watches: Watch[] = [];
  private readonly agents: Agent[] = [];

  get tb(): TestBroker {
    if (!this.broker) throw new Error('the suite has not started its broker yet');
    return this.broker;
  }

  async start(options: Partial<BrokerOptions>): Promise<void> {
    this.broker = await TestBroker.start(options);
  }

  /** A fresh agent bound to a fresh scripted device, watching its queue. */
  async watch(opts: JobDeviceOptions = {}): Promise<Watch> {
    const w = await boundDevice(this.tb, opts);
    this.watches.push(w);
    return w;
  }

  async agent(): Promise<Agent> {
    const a = await this.tb.agent(uniq('ag'));
    this.agents.push(a);
    return a;
  }

  async closeClients(): Promise<void> {
    for (const w of this.watches.splice(0)) {
      await w.device.close();
      await end(w.agent.client);
    }
    await end(...this.agents.splice(0).map((a) => a.client));
  }

  async stop(): Promise<void> {
    await this.broker?.stop();
    this.broker = null;
  }
}

/** A uvu suite with a broker on these options; clients are closed after each test. */
export function jobSuite(name: string, options: Partial<BrokerOptions> = {}): { s: Suite<Record<string, any>>; env: JobEnv } {
  const env = new JobEnv();
  const s = suite(name);
  s.before(() => env.start(options));
  s.after.each(() => env.closeClients());
  s.after(() => env.stop());
  return { s, env };
}
