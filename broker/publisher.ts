// Everything the broker itself publishes: device config, retained presence and bindings,
// and responses to requests.
import type { WireError } from '../protocol/errors';
import type { Config, Bindings, BoundDevice, Response, Status } from '../protocol/messages';
import { agentTopic, adminTopic, deviceTopic } from '../protocol/topics';
import type { Context } from './context';
import type { Identity } from './identity';
import { getAgent } from './store/accounts';
import { type BoundDeviceRow, boundDevicesOf, getDevice } from './store/devices';
import type { DeviceRow } from './store/schema';

/** What this module reads of the node's context. */
export type PublisherContext = Pick<
  Context,
  'aedes' | 'bindings' | 'bindingTimers' | 'claimCodes' | 'closing' | 'db' | 'log' | 'machines' | 'now' | 'presence'
>;

export function publishJson(ctx: PublisherContext, topic: string, body: unknown, retain = false): Promise<void> {
  return new Promise((resolve, reject) => {
    ctx.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 0, retain, dup: false }, (err?: Error) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** An empty retained message: the broker forgets the topic's retained one. */
export function clearRetained(ctx: PublisherContext, topic: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ctx.aedes.publish({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }, (err?: Error) => (err ? reject(err) : resolve()));
  });
}

export function respond(ctx: PublisherContext, who: Identity, body: Response): Promise<void> {
  if (who.kind === 'agent') return publishJson(ctx, agentTopic(who.id, 'res'), body);
  if (who.kind === 'admin') return publishJson(ctx, adminTopic(who.id, 'res'), body);
  throw new Error(`no response topic for ${who.kind}`);
}

/**
 * What a config answers besides the binding: `helloSentAt`, the `sentAt` of the hello it answers,
 * echoed for the device's round-trip compensation; `error`, what the broker refused in that hello;
 * `keepClaimCode`, answer a hello that changed nothing without rotating the claim code on screen.
 */
export interface ConfigAnswer {
  helloSentAt?: number;
  error?: WireError;
  keepClaimCode?: boolean;
  /** The bound agent's name, when the caller has just read it (a claim): the config reads nothing then. */
  agentName?: string;
}

export async function configFor(ctx: PublisherContext, row: DeviceRow, answer: ConfigAnswer = {}): Promise<Config> {
  let agent: Config['agent'] = null;
  if (row.agent_id !== null) {
    const name = answer.agentName ?? (await getAgent(ctx.db, row.agent_id))?.name;
    agent = { id: row.agent_id, name: name ?? row.agent_id };
  }
  const { helloSentAt } = answer;
  // The broker is the device's clock on sites without internet (docs/architecture.md, Firmware).
  const config: Config = { agent, settings: { keepalive: 30 }, time: helloSentAt === undefined ? { now: ctx.now() } : { now: ctx.now(), hello: helloSentAt } };
  if (row.machine_code !== null) config.machine = row.machine_code;
  const delta = await ctx.machines.shadows.deltaFor(row.id);
  if (delta) config.delta = delta;
  if (agent !== null) ctx.claimCodes.drop(row.id);
  else {
    const claimCode = answer.keepClaimCode === true ? ctx.claimCodes.codeOf(row.id) : ctx.claimCodes.rotate(row.id);
    if (claimCode !== undefined) config.claimCode = claimCode;
  }
  if (answer.error !== undefined) config.error = answer.error;
  return config;
}

export async function publishConfig(ctx: PublisherContext, device: string, answer: ConfigAnswer = {}): Promise<void> {
  const row = await getDevice(ctx.db, device);
  if (row) await publishConfigOf(ctx, row, answer);
}

/**
 * The config of the device as `row` has it. A binding change committed after that row was read or
 * written (a claim in the same group commit as a hello) publishes its own config, which this one
 * must not overtake with the old holder: the row is then read again.
 */
export async function publishConfigOf(ctx: PublisherContext, row: DeviceRow, answer: ConfigAnswer = {}): Promise<void> {
  const config = await configFor(ctx, row, answer);
  if ((ctx.bindings.bindingOf(row.id)?.version ?? 0) > Number(row.binding_version)) {
    const fresh = await getDevice(ctx.db, row.id);
    // A name the caller passed is the old holder's.
    if (fresh) await publishJson(ctx, deviceTopic(row.id, 'config'), await configFor(ctx, fresh, { ...answer, agentName: undefined }));
    return;
  }
  await publishJson(ctx, deviceTopic(row.id, 'config'), config);
}

export function publishStatus(ctx: PublisherContext, device: string, status: Status): Promise<void> {
  return publishJson(ctx, deviceTopic(device, 'status'), status, true);
}

export function boundDevice(ctx: PublisherContext, row: BoundDeviceRow): BoundDevice {
  const lease = row.bound_via === 'lease' && row.location !== null ? { lease: { location: row.location } } : {};
  return { id: row.id, machineCode: row.machine_code, model: row.model, boundAt: Number(row.bound_at), presence: ctx.presence.status(row.id), ...lease };
}

export async function bindingsOf(ctx: PublisherContext, agent: string): Promise<Bindings> {
  const rows = await boundDevicesOf(ctx.db, agent);
  return { agent, devices: rows.map((r) => boundDevice(ctx, r)), at: ctx.now() };
}

/** Republishes an agent's retained bindings, coalescing bursts (e.g. many presence changes). */
export function scheduleBindings(ctx: PublisherContext, agent: string, delayMs = 20): void {
  const map = ctx.bindingTimers;
  if (map.has(agent)) return;
  const timer = setTimeout(() => {
    map.delete(agent);
    if (ctx.closing) return;
    bindingsOf(ctx, agent)
      .then((b) => publishJson(ctx, agentTopic(agent, 'bindings'), b, true))
      .catch((err: unknown) => ctx.log.error({ err, agent }, 'publishing bindings failed'));
  }, delayMs);
  timer.unref();
  map.set(agent, timer);
}
