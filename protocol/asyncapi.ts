// The AsyncAPI 3 description of the MQTT topic tree, generated from the protocol's own lists
// (topic leaves, ops, states), so a new leaf or op shows up here without a second copy
// (docs/architecture.md, "API descriptions"). Operations are from the broker's side: it
// `receive`s what clients publish and `send`s what it publishes. Plain data: runs on XS too.
import { JOB_STATES } from './jobs';
import { MACHINE_STATES } from './machine-state';
import { ACK_STATES, ADMIN_OPS, AGENT_OPS, OFFLINE_REASONS, PRESENCE_STATES } from './messages';
import { ROLLOUT_ALERT_KINDS } from './ota';
import { AlertViewSchema, ErrorResponseSchema, ShadowSchema, StatusSchema, TransferRequestViewSchema } from './rest-schemas';
import { ADMIN_LEAVES, AGENT_LEAVES, DEVICE_LEAVES, PAYLOAD_LIMIT_DEFAULT, PAYLOAD_LIMIT_EVT, PREFIX, adminAlertsTopic, adminTransferTopic } from './topics';

type Json = Record<string, unknown>;
type DeviceLeafOrEvt = (typeof DEVICE_LEAVES)[number] | 'evt';

const obj = (properties: Json, required: string[] = []): Json => ({ type: 'object', properties, required });
const str = { type: 'string' };
const wireError = ErrorResponseSchema.properties.error as unknown as Json;

const DEVICE: Record<DeviceLeafOrEvt, { from: 'client' | 'broker'; retained?: boolean; summary: string; payload: Json }> = {
  hello: {
    from: 'client',
    summary: 'The device announces itself on every connect',
    payload: obj(
      {
        fw: str,
        model: str,
        mac: str,
        caps: { type: 'array', items: str },
        boot: { type: 'integer' },
        uptime: { type: 'integer' },
        concurrency: { type: 'integer' },
        machine: str,
        screen: obj({ width: { type: 'integer' }, height: { type: 'integer' } }, ['width', 'height']),
      },
      ['fw', 'model', 'mac', 'caps', 'boot', 'uptime'],
    ),
  },
  status: {
    from: 'broker',
    retained: true,
    summary: 'Presence, written by the broker (the device may publish online; its LWT says offline)',
    payload: { ...StatusSchema, properties: { ...StatusSchema.properties, reason: { type: 'string', enum: OFFLINE_REASONS } } },
  },
  config: {
    from: 'broker',
    summary: 'Who holds the device, its claim code and settings; answers every hello, with `error` when the broker refused it or its machine code',
    payload: obj(
      {
        agent: { type: ['object', 'null'], properties: { id: str, name: str } },
        claimCode: str,
        machine: str,
        settings: { type: 'object' },
        error: obj({ code: str, message: str, field: str }, ['code', 'message']),
      },
      ['agent', 'settings'],
    ),
  },
  cmd: {
    from: 'broker',
    summary: 'A job for the device; resent with attempt+1 until accepted',
    payload: obj(
      {
        job: str,
        kind: str,
        params: { type: 'object' },
        attempt: { type: 'integer' },
        deadline: { type: 'integer' },
        cancel: { type: 'boolean' },
        complete: { type: 'boolean' },
      },
      ['job', 'kind', 'params', 'attempt', 'deadline'],
    ),
  },
  ack: {
    from: 'client',
    summary: "The device's answer to a cmd",
    payload: obj({ job: str, state: { type: 'string', enum: ACK_STATES }, progress: { type: 'number' }, result: {}, error: str }, ['job', 'state']),
  },
  jobs: {
    from: 'broker',
    retained: true,
    summary: "The device's queue: each job's state, position and ETA",
    payload: obj(
      {
        device: str,
        at: { type: 'integer' },
        jobs: {
          type: 'array',
          items: obj({ job: str, kind: str, state: { type: 'string', enum: JOB_STATES }, position: { type: 'integer' }, eta: { type: 'integer' } }),
        },
      },
      ['device', 'at', 'jobs'],
    ),
  },
  state: {
    from: 'client',
    summary: `A JSON merge patch of the machine's reported state: machine {status: ${MACHINE_STATES.join('|')}, error?, job?}, consumables {name: {level 0-100, unit?}}, counters {name: integer}, settings (applied); null removes a field`,
    payload: {
      type: 'object',
      properties: {
        machine: { type: ['object', 'null'] },
        consumables: { type: ['object', 'null'] },
        counters: { type: ['object', 'null'] },
        settings: { type: ['object', 'null'] },
      },
      additionalProperties: false,
    },
  },
  shadow: {
    from: 'broker',
    retained: true,
    summary: 'The merged shadow: version, reported state, desired settings and their delta, per-field times (bound or leasing agent, admins)',
    payload: ShadowSchema as unknown as Json,
  },
  evt: { from: 'client', summary: `Device data streams (up to ${PAYLOAD_LIMIT_EVT} bytes)`, payload: {} },
};

const requestPayload = (ops: readonly string[]): Json => obj({ id: { type: ['string', 'number', 'null'] }, op: { type: 'string', enum: ops } }, ['id', 'op']);
const responsePayload: Json = {
  oneOf: [obj({ id: {}, ok: { const: true }, result: {} }, ['id', 'ok']), obj({ id: {}, ok: { const: false }, error: wireError }, ['id', 'ok', 'error'])],
};

interface Channel {
  address: string;
  parameters: Json;
  messages: Json;
  description: string;
}

export function asyncApiDocument(o: { version: string; mqttUrl: string }): Json {
  const channels: Record<string, Channel> = {};
  const operations: Record<string, Json> = {};
  const idParam = (what: string): Json => ({ description: `${what}: [a-z0-9][a-z0-9._-]{0,63}` });
  const add = (name: string, address: string, parameters: Json, from: 'client' | 'broker', summary: string, payload: Json, extra = ''): void => {
    channels[name] = { address, parameters, description: summary + extra, messages: { [name]: { name, contentType: 'application/json', payload } } };
    operations[`${from === 'client' ? 'receive' : 'send'}-${name}`] = {
      action: from === 'client' ? 'receive' : 'send',
      channel: { $ref: `#/channels/${name}` },
      summary,
      messages: [{ $ref: `#/channels/${name}/messages/${name}` }],
    };
  };
  for (const leaf of [...DEVICE_LEAVES, 'evt'] as const) {
    const d = DEVICE[leaf];
    const address = leaf === 'evt' ? `${PREFIX}/d/{device}/evt/{stream}` : `${PREFIX}/d/{device}/${leaf}`;
    const params = leaf === 'evt' ? { device: idParam('device id'), stream: idParam('stream name') } : { device: idParam('device id') };
    add(`device-${leaf}`, address, params, d.from, d.summary, d.payload, d.retained ? ' (retained)' : '');
  }
  for (const leaf of AGENT_LEAVES) {
    if (leaf === 'alerts') {
      add(
        'agent-alerts',
        `${PREFIX}/a/{agent}/alerts`,
        { agent: idParam('agent id') },
        'broker',
        "An alert on one of the agent's machines was raised, cleared or acknowledged",
        obj({ event: { type: 'string', enum: ['raised', 'cleared', 'acked'] }, alert: AlertViewSchema as unknown as Json }, ['event', 'alert']),
      );
      continue;
    }
    const payload =
      leaf === 'req'
        ? requestPayload(AGENT_OPS)
        : leaf === 'res'
          ? responsePayload
          : obj({ agent: str, devices: { type: 'array', items: { type: 'object' } }, at: { type: 'integer' } }, ['agent', 'devices', 'at']);
    add(
      `agent-${leaf}`,
      `${PREFIX}/a/{agent}/${leaf}`,
      { agent: idParam('agent id') },
      leaf === 'req' ? 'client' : 'broker',
      leaf === 'req'
        ? `Agent requests: ${AGENT_OPS.join(', ')}`
        : leaf === 'res'
          ? 'Answers to agent requests'
          : "The agent's devices with presence (retained)",
      payload,
    );
  }
  for (const leaf of ADMIN_LEAVES) {
    add(
      `admin-${leaf}`,
      `${PREFIX}/admin/{admin}/${leaf}`,
      { admin: idParam('admin name') },
      leaf === 'req' ? 'client' : 'broker',
      leaf === 'req' ? `Admin requests: ${ADMIN_OPS.join(', ')}` : 'Answers to admin requests',
      leaf === 'req' ? requestPayload(ADMIN_OPS) : responsePayload,
    );
  }
  add(
    'admin-transfer-requests',
    adminTransferTopic,
    {},
    'broker',
    'Transfer requests asked and decided, for every admin',
    obj({ event: str, request: TransferRequestViewSchema as unknown as Json }, ['event', 'request']),
  );
  const int = { type: 'integer' };
  add(
    'admin-alerts',
    adminAlertsTopic,
    {},
    'broker',
    'Alerts for every admin: machine alerts raised, cleared or acknowledged; a rollout that paused itself or finished with failures; a webhook endpoint disabled after failing too long',
    {
      oneOf: [
        obj({ event: { type: 'string', enum: ['raised', 'cleared', 'acked'] }, alert: AlertViewSchema as unknown as Json }, ['event', 'alert']),
        obj(
          {
            event: { const: 'rollout' },
            kind: { type: 'string', enum: ROLLOUT_ALERT_KINDS },
            rollout: str,
            release: str,
            wave: int,
            failed: int,
            rolledBack: int,
            message: str,
            at: int,
          },
          ['event', 'kind', 'rollout', 'release', 'wave', 'failed', 'rolledBack', 'message', 'at'],
        ),
        obj({ event: { const: 'webhook' }, kind: { const: 'webhook-disabled' }, webhook: str, url: str, message: str, at: int }, [
          'event',
          'kind',
          'webhook',
          'url',
          'message',
          'at',
        ]),
      ],
    },
  );
  const orNull = (t: string): Json => ({ type: [t, 'null'] });
  add(
    'order',
    `${PREFIX}/o/{order}`,
    { order: idParam('order id (the print job id)') },
    'broker',
    "A walk-up order's state, for the customer session that placed it (retained until the order ends)",
    obj(
      {
        order: str,
        state: { type: 'string', enum: JOB_STATES },
        position: orNull('integer'),
        eta: orNull('integer'),
        progress: orNull('number'),
        error: { type: ['object', 'null'], properties: { code: str, message: str } },
        machine: obj({ status: { type: 'string', description: 'idle, busy, offline, maintenance or closed' }, queueLength: int }, ['status', 'queueLength']),
        at: int,
      },
      ['order', 'state', 'position', 'eta', 'progress', 'error', 'machine', 'at'],
    ),
  );
  add(
    'enroll',
    `${PREFIX}/enroll/{mac}`,
    { mac: { description: '12 lower-case hex digits' } },
    'client',
    'An enrolling device asks for its id and secret',
    obj({ mac: str, model: str, fw: str, machine: str }, ['mac', 'model', 'fw']),
  );
  add(
    'enroll-reply',
    `${PREFIX}/enroll/{mac}/reply`,
    { mac: { description: '12 lower-case hex digits' } },
    'broker',
    'The enrolled device id and secret, or why not',
    {
      oneOf: [
        obj({ ok: { const: true }, deviceId: str, secret: str }, ['ok', 'deviceId', 'secret']),
        obj({ ok: { const: false }, error: wireError }, ['ok', 'error']),
      ],
    },
  );
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'fleetbind MQTT topic tree',
      version: o.version,
      description: `MQTT 3.1.1, QoS 0. Payloads are JSON, at most ${PAYLOAD_LIMIT_DEFAULT} bytes (${PAYLOAD_LIMIT_EVT} for evt). Presence states: ${PRESENCE_STATES.join(', ')}. Every subscription and every delivered message is checked against the current binding.`,
    },
    defaultContentType: 'application/json',
    servers: { broker: { host: o.mqttUrl.replace(/^mqtt:\/\//, ''), protocol: 'mqtt', protocolVersion: '3.1.1' } },
    channels,
    operations,
  };
}
