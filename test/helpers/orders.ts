// Walk-up order test helpers: machines that take orders, customer sessions from their labels,
// design images made with sharp, multipart uploads and customer MQTT connections.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { MqttClient } from 'mqtt';
import { labelSignature } from '../../broker/labels';
import { orderLabelSignature } from '../../broker/orders/labels';
import { type ApiResult, api } from './broker';
import type { TestBroker } from './broker';
import { JobDevice, type JobDeviceOptions } from './job-device';
import { type Agent, claim } from './jobs';
import { connect } from './mqtt';

export interface Machine {
  code: string;
  device: JobDevice;
  agent: Agent;
}

let seq = 0;

/** A provisioned, connected device announcing `print`, claimed by the agent and opened to orders. */
export async function orderMachine(tb: TestBroker, agent: Agent, opts: JobDeviceOptions = {}): Promise<Machine> {
  const code = `OM${process.pid}${++seq}${randomBytes(2).toString('hex').toUpperCase()}`;
  const dev = await tb.provision(undefined, code);
  const device = await JobDevice.connect(tb.broker.mqttUrl, dev, { caps: ['identify', 'print'], ...opts });
  await claim(agent, dev.id);
  const r = await tb.api('POST', `/api/devices/${dev.id}/order-settings`, { enabled: true });
  if (r.status !== 200) throw new Error(`enabling orders failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { code, device, agent };
}

export const orderLabel = (tb: TestBroker, code: string): string => `/o/${code}.${orderLabelSignature(tb.ctx.labelKey, code)}`;
export const claimLabel = (tb: TestBroker, code: string): string => `/c/${code}.${labelSignature(tb.ctx.labelKey, code)}`;

export interface Customer {
  session: string;
  token: string;
  machine: any;
}

export async function openCustomer(baseUrl: string, label: string): Promise<Customer> {
  const r = await api(baseUrl, 'POST', '/api/orders/sessions', { label });
  if (r.status !== 201) throw new Error(`opening a session failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Customer;
}

/** A noisy image (it does not compress, so it is no bomb) of the given size and format. */
export function noisyImage(width: number, height: number, format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    [format]()
    .toBuffer();
}

export async function upload(baseUrl: string, c: Customer, bytes: Buffer, name = 'design.png', type = 'image/png'): Promise<ApiResult & { headers: Headers }> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
  const res = await fetch(`${baseUrl}/api/orders/${c.session}/designs`, { method: 'POST', headers: { authorization: `Bearer ${c.token}` }, body: form });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

export async function order(baseUrl: string, c: Customer, body: Record<string, unknown>): Promise<ApiResult & { headers: Headers }> {
  const res = await fetch(`${baseUrl}/api/orders/${c.session}/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

export function customerApi(baseUrl: string, c: Customer, method: string, path: string, body?: unknown): Promise<ApiResult> {
  return api(baseUrl, method, path, body, c.token);
}

export function connectCustomer(wsUrl: string, c: Customer): Promise<MqttClient> {
  return connect(wsUrl, {
    clientId: `customer:${c.session}:${randomBytes(3).toString('hex')}`,
    username: `customer:${c.session}`,
    password: c.token,
    reconnectPeriod: 0,
  });
}

/** What the broker's retained store holds for a topic: what a new subscriber would be sent. */
export async function retainedOn(tb: TestBroker, topic: string): Promise<string[]> {
  const { persistence } = tb.ctx.aedes as unknown as { persistence: { createRetainedStreamCombi(patterns: string[]): AsyncIterable<{ payload: Buffer }> } };
  const out: string[] = [];
  for await (const p of persistence.createRetainedStreamCombi([topic])) out.push(p.payload.toString());
  return out;
}
