// A real broker on ephemeral ports with a fresh SQLite data dir, plus the admin, agent and
// device helpers the integration suites share.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { MqttClient } from 'mqtt';
import type { BrokerOptions } from '../../broker/config';
import { type RunningBroker, startBroker } from '../../broker/server';
import { agentTopic, adminTopic, deviceTopic } from '../../protocol/topics';
import type { Dev, Fleet, Where } from '../scenarios/fleet';
import { connect, publish, subscribe, waitFor } from './mqtt';

export interface ApiResult<T = any> {
  status: number;
  body: T;
}

export async function api<T = any>(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<ApiResult<T>> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T };
}

/** REST over HTTPS, trusting only the given CA (or self-signed certificate). */
export function httpsApi<T = any>(baseUrl: string, ca: Buffer | string, method: string, path: string, body?: unknown, token?: string): Promise<ApiResult<T>> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, ca, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function randomMac(): string {
  return randomBytes(6).toString('hex');
}

let requestSeq = 0;

/** Sends a request on the agent's (or admin's) req topic and resolves with the matching response. */
export async function request(client: MqttClient, who: { kind: 'agent' | 'admin'; id: string }, body: Record<string, unknown>, timeoutMs = 5000): Promise<any> {
  const id = `r${++requestSeq}`;
  const base = who.kind === 'agent' ? agentTopic : adminTopic;
  const res = waitFor(client, (topic, json) => topic === base(who.id, 'res') && json?.id === id, timeoutMs, `response to ${String(body.op)}`);
  await publish(client, base(who.id, 'req'), { id, ...body });
  return (await res).json;
}

/**
 * `attach` gets the client once it is connected, before it subscribes: a listener added there
 * misses nothing. One added after this resolves can miss a message that came in the same TCP read
 * as the last one awaited here, since mqtt.js emits every packet of a read before awaiting code resumes.
 */
export type Attach = (client: MqttClient) => void;

export async function connectAgent(url: string, id: string, token: string, attach?: Attach): Promise<MqttClient> {
  const client = await connect(url, { clientId: `agent:${id}:${randomBytes(3).toString('hex')}`, username: `agent:${id}`, password: token });
  attach?.(client);
  await subscribe(client, [agentTopic(id, 'res'), agentTopic(id, 'bindings')]);
  return client;
}

/** Connects an admin as `admin:ops` with the operator's admin token, subscribed to its res topic. */
export async function connectAdmin(url: string, adminToken: string): Promise<MqttClient> {
  const client = await connect(url, { clientId: `admin:ops:${randomBytes(3).toString('hex')}`, username: 'admin:ops', password: adminToken });
  await subscribe(client, adminTopic('ops', 'res'));
  return client;
}

/**
 * Connects a device as the firmware does: subscribe config and cmd, publish status, hello; waits
 * for config. A cmd for a queued job can follow config in the same TCP read: listen for it in
 * `attach` (see Attach).
 */
export async function connectDevice(
  url: string,
  d: Dev,
  opts: { caps?: string[]; keepalive?: number; screen?: { width: number; height: number }; attach?: Attach } = {},
): Promise<{ client: MqttClient; config: any }> {
  const client = await connect(url, {
    clientId: d.id,
    username: d.id,
    password: d.secret,
    keepalive: opts.keepalive ?? 30,
    will: { topic: deviceTopic(d.id, 'status'), payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 0, retain: true },
  });
  opts.attach?.(client);
  await subscribe(client, [deviceTopic(d.id, 'config'), deviceTopic(d.id, 'cmd')]);
  const config = waitFor(client, (t) => t === deviceTopic(d.id, 'config'), 5000, 'config');
  await publish(client, deviceTopic(d.id, 'status'), { state: 'online' }, { retain: true });
  await publish(client, deviceTopic(d.id, 'hello'), { ...helloOf(d, opts.caps), ...(opts.screen ? { screen: opts.screen } : {}) });
  return { client, config: (await config).json };
}

/** The hello a test device sends on connect. */
export const helloOf = (d: Dev, caps = ['qr.show', 'identify', 'serial.send']): Record<string, unknown> => ({
  fw: '1.0.0',
  model: 'test-board',
  mac: d.mac,
  caps,
  boot: 1,
  uptime: 0,
});

export class TestBroker implements Fleet {
  readonly name = 'single node';
  readonly nodes = 1;

  private constructor(
    readonly broker: RunningBroker,
    readonly dataDir: string,
    readonly adminToken: string,
    private readonly ownsDir: boolean,
  ) {}

  static async start(opts: Partial<BrokerOptions> = {}): Promise<TestBroker> {
    const ownsDir = opts.dataDir === undefined;
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'fleetbind-test-'));
    const adminToken = opts.adminToken ?? randomBytes(24).toString('hex');
    const broker = await startBroker({
      host: '127.0.0.1',
      mqttPort: 0,
      httpPort: 0,
      logLevel: process.env.FLEETBIND_TEST_LOG ?? 'silent',
      quiet: true,
      graceMs: 1000,
      ...opts,
      dataDir,
      adminToken,
    });
    return new TestBroker(broker, dataDir, adminToken, ownsDir);
  }

  get ctx() {
    return this.broker.ctx;
  }

  api<T = any>(method: string, path: string, body?: unknown, token: string | undefined = this.adminToken): Promise<ApiResult<T>> {
    return api<T>(this.broker.httpUrl, method, path, body, token);
  }

  async createAgent(id: string | number, opts: { name?: string; password?: string; deviceLimit?: number } = {}): Promise<{ id: string; password: string }> {
    const password = opts.password ?? `pw-${randomBytes(8).toString('hex')}`;
    const r = await this.api('POST', '/api/agents', {
      id,
      name: opts.name ?? `Agent ${id}`,
      password,
      ...(opts.deviceLimit ? { deviceLimit: opts.deviceLimit } : {}),
    });
    if (r.status !== 201) throw new Error(`creating agent ${id} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, password };
  }

  async login(id: string | number, password: string): Promise<string> {
    const r = await this.api('POST', '/api/login', { id, password }, undefined);
    if (r.status !== 200) throw new Error(`login ${id} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }

  urlFor(where: Where = {}): string {
    return where.transport === 'ws' ? this.broker.wsUrl : this.broker.mqttUrl;
  }

  aclAgentOf(device: string): (string | null)[] {
    return [this.broker.ctx.bindings.agentOf(device)];
  }

  /** One node has no traffic between nodes to wait for. */
  async flush(): Promise<void> {}

  /** Creates, logs in and connects an agent, subscribed to its res and bindings topics. */
  async agent(id: string, where: Where = {}): Promise<{ client: MqttClient; id: string; token: string }> {
    const a = await this.createAgent(id);
    const token = await this.login(id, a.password);
    return { client: await connectAgent(this.urlFor(where), a.id, token), id: a.id, token };
  }

  async provision(mac = randomMac(), machineCode?: string): Promise<Dev> {
    const r = await this.api('POST', '/api/devices', { mac, ...(machineCode ? { machineCode } : {}), model: 'test-board' });
    if (r.status !== 201) throw new Error(`provisioning ${mac} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, secret: r.body.secret, mac };
  }

  /** Connects a device as the firmware does: subscribe config and cmd, publish status, hello; waits for config. */
  device(d: Dev, where: Where = {}, opts: { caps?: string[]; keepalive?: number } = {}): Promise<{ client: MqttClient; config: any }> {
    return connectDevice(this.urlFor(where), d, opts);
  }

  async stop(): Promise<void> {
    await this.broker.close();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
