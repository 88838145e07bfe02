// The REST API's shapes as JSON Schema, the one source for three things: the TypeScript types in
// protocol/rest.ts (derived with json-schema-to-ts, types only, so this file stays plain data that
// XS can load), the broker's request validation and the OpenAPI document
// (docs/architecture.md, "API descriptions").
import { JOB_STATES } from './jobs';
import { MACHINE_STATES, MACHINE_STATUSES } from './machine-state';
import { OFFLINE_REASONS, PRESENCE_STATES, ROUTES } from './messages';
import { TOKEN_REFUSALS } from './errors';
import { PAYMENT_TEMPLATES } from './payment/templates';
import { WEBHOOK_EVENTS } from './webhooks';

const str = { type: 'string' } as const;
const ms = { type: 'integer', description: 'ms since the epoch' } as const;
const msOrNull = { type: ['integer', 'null'], description: 'ms since the epoch' } as const;
const strOrNull = { type: ['string', 'null'] } as const;
/** Ids accept numbers too (263 and "263" are one agent); the server normalises them. */
const idInput = {
  type: ['string', 'integer'],
  description: 'an id: trimmed and lower-cased, [a-z0-9][a-z0-9._-]{0,63}; a non-negative integer is taken as its decimal string',
} as const;

export const StatusSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['state', 'conn', 'since'],
  properties: { state: { type: 'string', enum: PRESENCE_STATES }, conn: { type: 'integer' }, since: ms, reason: { type: 'string', enum: OFFLINE_REASONS } },
} as const;

export const ErrorResponseSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: str,
        message: str,
        field: { type: 'string', description: 'the input field that was wrong' },
        since: ms,
        agent: str,
        reason: { type: 'string', enum: TOKEN_REFUSALS, description: 'why an identity-provider token was refused' },
        counts: {
          type: 'object',
          description: "NO_DEVICE_AVAILABLE: the pool's devices that run the kind, at that instant",
          required: ['location', 'online', 'busy', 'offline'],
          properties: { location: str, online: { type: 'integer' }, busy: { type: 'integer' }, offline: { type: 'integer' } },
        },
        options: {
          type: 'object',
          description: 'BAD_TARGET: what the agent may name instead',
          required: ['devices', 'pools', 'primary'],
          properties: { devices: { type: 'array', items: str }, pools: { type: 'array', items: str }, primary: strOrNull },
        },
      },
    },
  },
} as const;

export const DeviceViewSchema = {
  type: 'object',
  required: [
    'id',
    'mac',
    'machineCode',
    'model',
    'fw',
    'caps',
    'concurrency',
    'location',
    'mode',
    'agent',
    'boundAt',
    'boundVia',
    'reservedByJob',
    'bindingVersion',
    'reprovisionAllowed',
    'createdAt',
    'lastSeen',
  ],
  properties: {
    id: str,
    mac: str,
    machineCode: strOrNull,
    model: strOrNull,
    fw: strOrNull,
    caps: { type: 'array', items: str },
    concurrency: { type: 'integer' },
    location: strOrNull,
    mode: { type: 'string', enum: ['owned', 'pool'], description: 'owned: claimed for keeps; pool: leased per job to agents of its location' },
    agent: strOrNull,
    boundAt: msOrNull,
    boundVia: strOrNull,
    reservedByJob: strOrNull,
    bindingVersion: { type: 'integer' },
    reprovisionAllowed: { type: 'boolean' },
    createdAt: ms,
    lastSeen: msOrNull,
  },
} as const;

export const DeviceWithPresenceSchema = {
  ...DeviceViewSchema,
  required: [...DeviceViewSchema.required, 'presence'],
  properties: { ...DeviceViewSchema.properties, presence: StatusSchema },
} as const;

export const AgentViewSchema = {
  type: 'object',
  required: ['id', 'name', 'disabled', 'deviceLimit', 'createdAt'],
  properties: { id: str, name: str, disabled: { type: 'boolean' }, deviceLimit: { type: ['integer', 'null'] }, createdAt: ms },
} as const;

export const AgentListItemSchema = {
  ...AgentViewSchema,
  required: [...AgentViewSchema.required, 'devices'],
  properties: { ...AgentViewSchema.properties, devices: { type: 'integer', description: 'how many devices the agent holds' } },
} as const;

export const AgentDetailSchema = {
  ...AgentViewSchema,
  required: [...AgentViewSchema.required, 'devices', 'locations'],
  properties: {
    ...AgentViewSchema.properties,
    devices: { type: 'array', items: str, description: 'the devices the agent holds' },
    locations: { type: 'array', items: str, description: 'the locations whose pools the agent may use' },
  },
} as const;

export const AuditViewSchema = {
  type: 'object',
  required: ['seq', 'at', 'actor', 'action', 'device', 'agent', 'detail'],
  properties: {
    seq: { type: 'integer' },
    at: ms,
    actor: str,
    action: str,
    device: strOrNull,
    agent: strOrNull,
    detail: { type: 'object', additionalProperties: true },
  },
} as const;

export const EnrollmentTokenViewSchema = {
  type: 'object',
  required: ['id', 'usesTotal', 'usesLeft', 'expiresAt', 'createdAt', 'createdBy', 'revokedAt', 'allowMachineCodes'],
  properties: {
    id: str,
    usesTotal: { type: 'integer' },
    usesLeft: { type: 'integer' },
    expiresAt: ms,
    createdAt: ms,
    createdBy: str,
    revokedAt: msOrNull,
    allowMachineCodes: { type: 'boolean', description: 'devices enrolled with it may announce a machine code that no device has' },
  },
} as const;

export const NewEnrollmentTokenSchema = {
  type: 'object',
  required: ['id', 'token', 'uses', 'expiresAt', 'allowMachineCodes'],
  properties: {
    id: str,
    token: { type: 'string', description: 'shown this once' },
    uses: { type: 'integer' },
    expiresAt: ms,
    allowMachineCodes: { type: 'boolean' },
  },
} as const;

export const BindingViewSchema = {
  type: 'object',
  required: ['device', 'machineCode', 'agent', 'boundAt', 'via', 'presence'],
  properties: { device: str, machineCode: strOrNull, agent: str, boundAt: ms, via: strOrNull, presence: StatusSchema },
} as const;

/** GET /api/binding-map: one node's in-memory binding map (docs/architecture.md, Backends). */
export const BindingMapSchema = {
  type: 'object',
  required: ['node', 'suspended', 'entries'],
  properties: {
    node: strOrNull,
    suspended: { type: 'boolean' },
    entries: {
      type: 'array',
      items: { type: 'object', required: ['device', 'agent', 'version'], properties: { device: str, agent: strOrNull, version: { type: 'integer' } } },
    },
  },
} as const;

export const TransferResultSchema = {
  type: 'object',
  required: ['device', 'from', 'to', 'changed'],
  properties: { device: str, from: strOrNull, to: strOrNull, changed: { type: 'boolean' } },
} as const;

export const LabelSchema = {
  type: 'object',
  required: ['code', 'url', 'device', 'fleet'],
  properties: { code: str, sig: str, url: str, device: strOrNull, fleet: str },
} as const;

const jobTimes = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(JOB_STATES.map((s) => [s, ms])) as { [K in (typeof JOB_STATES)[number]]: typeof ms },
} as const;
const jobError = { type: ['object', 'null'], required: ['code', 'message'], properties: { code: str, message: str } } as const;

export const JobListItemSchema = {
  type: 'object',
  required: ['job', 'device', 'agent', 'kind', 'params', 'state', 'hold', 'error', 'times'],
  properties: {
    job: str,
    device: str,
    agent: str,
    kind: str,
    params: { type: 'object', additionalProperties: true },
    state: { type: 'string', enum: JOB_STATES },
    hold: { type: 'boolean' },
    error: jobError,
    times: jobTimes,
    pool: { type: 'string', description: 'the location whose pool the job came through; absent when the submit named its device' },
    route: { type: 'string', enum: ROUTES, description: 'how the job found its device (docs/architecture.md, Locations and pools)' },
  },
} as const;

/** GET /api/jobs/<id>: the whole job, with its place in the queue (the device's, or its pool's) while it waits. */
export const JobViewSchema = {
  ...JobListItemSchema,
  required: [...JobListItemSchema.required, 'attempt', 'retries', 'progress', 'result', 'pending', 'idempotencyKey', 'expiresAt', 'position', 'eta'],
  properties: {
    ...JobListItemSchema.properties,
    device: { type: ['string', 'null'], description: 'null while a pool job waits in its pool queue for a device' },
    attempt: { type: 'integer' },
    retries: { type: 'integer' },
    progress: { type: ['number', 'null'] },
    result: { description: 'what the device answered, any JSON' },
    pending: { type: ['string', 'null'], enum: ['cancel', 'complete', null] },
    idempotencyKey: strOrNull,
    expiresAt: ms,
    position: { type: ['integer', 'null'] },
    eta: { type: ['integer', 'null'], description: 'ms until the job is expected to finish' },
    history: {
      type: 'array',
      items: { type: 'object', required: ['at', 'event'], properties: { at: ms, event: str, detail: { type: 'object', additionalProperties: true } } },
    },
  },
} as const;

const webhookEvent = { type: 'string', enum: WEBHOOK_EVENTS } as const;

export const WebhookViewSchema = {
  type: 'object',
  required: ['id', 'url', 'events', 'enabled', 'createdAt', 'createdBy', 'failingSince', 'disabledAt', 'disabledReason'],
  properties: {
    id: str,
    url: str,
    events: { type: 'array', items: webhookEvent },
    enabled: { type: 'boolean' },
    createdAt: ms,
    createdBy: str,
    failingSince: msOrNull,
    disabledAt: msOrNull,
    disabledReason: strOrNull,
  },
} as const;

export const NewWebhookSchema = {
  ...WebhookViewSchema,
  properties: {
    ...WebhookViewSchema.properties,
    secret: { type: 'string', description: 'the generated signing secret, shown this once (absent when the request gave one)' },
  },
} as const;

export const WebhookAttemptViewSchema = {
  type: 'object',
  required: ['at', 'status', 'error', 'latencyMs'],
  properties: { at: ms, status: { type: ['integer', 'null'] }, error: strOrNull, latencyMs: { type: 'integer' } },
} as const;

export const WebhookDeliveryViewSchema = {
  type: 'object',
  required: ['seq', 'event', 'type', 'state', 'attempts', 'createdAt', 'nextAt', 'deliveredAt', 'lastStatus', 'lastError'],
  properties: {
    seq: { type: 'integer' },
    event: str,
    type: str,
    state: { type: 'string', enum: ['pending', 'delivered', 'failed', 'disabled'] },
    attempts: { type: 'array', items: WebhookAttemptViewSchema },
    createdAt: ms,
    nextAt: msOrNull,
    deliveredAt: msOrNull,
    lastStatus: { type: ['integer', 'null'] },
    lastError: strOrNull,
  },
} as const;

export const LoginBlockViewSchema = {
  type: 'object',
  required: ['subject', 'address', 'failures', 'retryAfterMs'],
  properties: { subject: strOrNull, address: strOrNull, failures: { type: 'integer' }, retryAfterMs: { type: 'integer' } },
} as const;

export const ClaimPreviewSchema = {
  type: 'object',
  required: ['device', 'machineCode', 'model', 'presence', 'holder', 'since'],
  properties: {
    device: str,
    machineCode: strOrNull,
    model: strOrNull,
    presence: StatusSchema,
    holder: { type: ['string', 'null'], enum: ['you', 'other', null], description: "'you': bound to the caller; 'other': to someone else; null: free" },
    since: msOrNull,
    agent: { type: ['string', 'null'], description: 'the holder, shown to admins only' },
  },
} as const;

export const SessionSchema = {
  type: 'object',
  required: ['token', 'kind', 'id', 'name', 'username', 'expiresAt', 'idleTimeoutMs'],
  properties: {
    token: str,
    kind: { type: 'string', enum: ['agent', 'admin'] },
    id: str,
    name: str,
    username: str,
    expiresAt: ms,
    idleTimeoutMs: { type: 'integer' },
  },
} as const;

export const MeSchema = {
  type: 'object',
  required: ['kind', 'id', 'name', 'username'],
  properties: { kind: { type: 'string', enum: ['agent', 'admin'] }, id: str, name: str, username: str },
} as const;

/** GET /api/payment-settings: the fleet's payment QR template for the job form, and whether this is production. */
export const PaymentSettingsSchema = {
  type: 'object',
  required: ['template', 'production'],
  properties: { template: { type: ['string', 'null'], enum: [...PAYMENT_TEMPLATES, null] }, production: { type: 'boolean' } },
} as const;

// ---- request bodies

export const LoginBodySchema = {
  type: 'object',
  required: ['id', 'password'],
  properties: { id: { ...idInput, description: 'an agent id, or admin:<name>' }, password: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const CreateAgentBodySchema = {
  type: 'object',
  required: ['id', 'name', 'password'],
  properties: {
    id: idInput,
    name: { type: 'string', minLength: 1, maxLength: 128 },
    password: { type: 'string', minLength: 8, maxLength: 256 },
    deviceLimit: { type: ['integer', 'null'], minimum: 1, maximum: 10000 },
  },
} as const;

export const PatchAgentBodySchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    password: { type: 'string', minLength: 8, maxLength: 256 },
    disabled: { type: 'boolean' },
    deviceLimit: { type: ['integer', 'null'], minimum: 1, maximum: 10000 },
    locations: { type: 'array', maxItems: 100, items: idInput, description: 'the locations the agent belongs to (replaces the list)' },
    primary: { type: ['string', 'integer', 'null'], description: 'the owned device a `primary: true` submit names; null for none' },
    fallback: { type: ['string', 'null'], enum: ['pool', null], description: "'pool': a primary submit goes to the pool while the primary is offline or busy" },
  },
} as const;

export const ProvisionBodySchema = {
  type: 'object',
  required: ['mac'],
  properties: {
    mac: { type: 'string', description: '12 hex digits, any usual notation' },
    machineCode: { type: ['string', 'integer'] },
    model: str,
    reprovision: { type: 'boolean' },
  },
} as const;

export const ProvisionedSchema = {
  type: 'object',
  required: ['id', 'secret'],
  properties: { id: str, secret: { type: 'string', description: 'shown this once' } },
  additionalProperties: true,
} as const;

export const TransferBodySchema = {
  type: 'object',
  required: ['agent', 'reason'],
  properties: { agent: idInput, reason: { type: 'string', minLength: 1, maxLength: 500 }, force: { type: 'boolean' } },
} as const;

export const ReleaseBodySchema = {
  type: 'object',
  required: ['reason'],
  properties: { reason: { type: 'string', minLength: 1, maxLength: 500 }, force: { type: 'boolean' } },
} as const;

export const ReprovisionBodySchema = { type: 'object', properties: { allowed: { type: 'boolean' } } } as const;

export const EnrollmentTokenBodySchema = {
  type: 'object',
  required: ['uses', 'expiresIn'],
  properties: {
    uses: { type: 'integer', minimum: 1, maximum: 100000 },
    expiresIn: { type: ['integer', 'string'], description: 'seconds, or a duration such as 30m, 12h, 7d' },
    allowMachineCodes: { type: 'boolean', description: 'devices enrolled with it may announce a machine code that no device has yet (default false)' },
  },
} as const;

export const ClearBlocksBodySchema = {
  type: 'object',
  properties: { subject: { type: 'string', minLength: 1, maxLength: 200 }, address: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

export const CreateWebhookBodySchema = {
  type: 'object',
  required: ['url', 'events'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048 },
    events: { type: 'array', minItems: 1, items: str },
    secret: { type: 'string', minLength: 16, maxLength: 256 },
  },
} as const;

export const PatchWebhookBodySchema = {
  type: 'object',
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048 },
    events: { type: 'array', minItems: 1, items: str },
    secret: { type: 'string', minLength: 16, maxLength: 256 },
    enabled: { type: 'boolean' },
  },
} as const;

export const TransferRequestViewSchema = {
  type: 'object',
  required: ['id', 'device', 'machineCode', 'state', 'note', 'createdAt', 'decidedAt', 'reason'],
  properties: {
    id: str,
    device: str,
    machineCode: strOrNull,
    state: { type: 'string', enum: ['open', 'approved', 'declined'] },
    note: strOrNull,
    createdAt: ms,
    decidedAt: msOrNull,
    reason: strOrNull,
    agent: { type: 'string', description: 'who asked; shown to admins only' },
    holder: { type: ['string', 'null'], description: 'who held the machine when it was asked for; shown to admins only' },
    decidedBy: { type: ['string', 'null'], description: 'shown to admins only' },
  },
} as const;

export const CreateTransferRequestBodySchema = {
  type: 'object',
  properties: {
    device: idInput,
    code: { type: 'string', minLength: 1, maxLength: 512, description: 'a machine code or label URL' },
    note: { type: 'string', maxLength: 500 },
  },
} as const;

export const DecideTransferRequestBodySchema = { type: 'object', properties: { reason: { type: 'string', maxLength: 500 } } } as const;

// ---- Machines (docs/architecture.md, "Machine state")

const settingValue = { type: ['string', 'number', 'boolean'] } as const;
const consumable = {
  type: 'object',
  additionalProperties: false,
  required: ['level'],
  properties: { level: { type: 'number', minimum: 0, maximum: 100 }, unit: str },
} as const;
const consumables = { type: 'object', additionalProperties: consumable, description: 'by name: ink.c, ink.m, ink.y, ink.k, paper, …' } as const;

export const ShadowSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'version', 'desiredVersion', 'reported', 'desired', 'delta', 'metadata', 'updatedAt', 'lowPercent'],
  properties: {
    device: str,
    version: { type: 'integer', description: 'bumped by every accepted change, reported or desired' },
    desiredVersion: { type: 'integer', description: 'bumped by every change of the desired settings' },
    reported: {
      type: 'object',
      additionalProperties: false,
      properties: {
        machine: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: MACHINE_STATES },
            error: { type: 'object', additionalProperties: false, required: ['code', 'message'], properties: { code: str, message: str } },
            job: str,
          },
        },
        consumables,
        counters: { type: 'object', additionalProperties: { type: 'integer' } },
        settings: { type: 'object', additionalProperties: settingValue },
      },
    },
    desired: { type: 'object', additionalProperties: settingValue },
    delta: { type: 'object', additionalProperties: settingValue, description: 'desired settings the device has not reported as applied' },
    metadata: { type: 'object', additionalProperties: { type: 'integer' }, description: 'when each field last changed (ms), by path' },
    updatedAt: ms,
    lowPercent: {
      type: 'number',
      description: "the fleet's low level for consumables (--machines-low-percent); the machine's own alerts.inkLowPercent setting wins",
    },
  },
} as const;

export const AlertViewSchema = {
  type: 'object',
  required: ['id', 'device', 'kind', 'subject', 'state', 'message', 'raisedAt', 'clearedAt', 'ackedAt', 'ackedBy'],
  properties: {
    id: str,
    device: str,
    kind: { type: 'string', enum: ['consumable-low', 'machine-error', 'offline', 'job-failures'] },
    subject: { type: 'string', description: "what it is about: a consumable's name, 'machine', 'presence' or 'jobs'" },
    state: { type: 'string', enum: ['open', 'cleared'] },
    message: str,
    raisedAt: ms,
    clearedAt: msOrNull,
    ackedAt: msOrNull,
    ackedBy: strOrNull,
  },
} as const;

export const MachineViewSchema = {
  type: 'object',
  required: ['code', 'device', 'name', 'location', 'machineStatus', 'presence', 'currentJob', 'queueLength', 'consumables', 'openAlerts'],
  properties: {
    code: { ...strOrNull, description: 'the machine code (CT0700026), when it has one' },
    device: str,
    name: { type: 'string', description: 'the machine code, else the device id' },
    location: strOrNull,
    machineStatus: { type: 'string', enum: MACHINE_STATUSES },
    presence: StatusSchema,
    currentJob: strOrNull,
    queueLength: { type: 'integer', description: 'unfinished jobs, the running one included' },
    consumables,
    openAlerts: { type: 'integer' },
    agent: { type: 'string', description: 'admins only: who holds it' },
  },
} as const;

export const MachineDetailSchema = {
  type: 'object',
  required: [...MachineViewSchema.required, 'shadow', 'alerts'],
  properties: { ...MachineViewSchema.properties, shadow: { oneOf: [ShadowSchema, { type: 'null' }] }, alerts: { type: 'array', items: AlertViewSchema } },
} as const;

export const QueuePositionSchema = {
  type: 'object',
  required: ['job', 'device', 'state', 'position', 'eta'],
  properties: {
    job: str,
    device: str,
    state: { type: 'string', enum: JOB_STATES },
    position: { type: ['integer', 'null'], description: '0 while it runs; null once it ended' },
    eta: { ...msOrNull, description: 'when it is expected to end' },
  },
} as const;

export const HistorySampleSchema = {
  type: 'object',
  required: ['field', 'at', 'value'],
  properties: { field: str, at: ms, value: { type: 'number' } },
} as const;

export const SettingsBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['settings'],
  properties: {
    settings: {
      type: 'object',
      additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
      description: '{key: value}; null removes a desired setting',
    },
    version: { type: 'integer', description: 'the desired version last read; a change made since is refused with CONFLICT' },
    agentEditable: { type: 'array', items: str, description: 'admins only: settings the bound agent may change' },
  },
} as const;

const deviceStateCounts = {
  type: 'object',
  description: 'devices by state: pending, sent, downloading, installed, confirmed, failed, rolled-back, skipped-busy',
  additionalProperties: { type: 'integer' },
} as const;

export const ReleaseViewSchema = {
  type: 'object',
  required: ['version', 'models', 'size', 'sha256', 'createdAt', 'createdBy', 'devices'],
  properties: {
    version: str,
    models: { type: 'array', items: str },
    size: { type: 'integer' },
    sha256: str,
    minVersion: str,
    notes: str,
    createdAt: ms,
    createdBy: str,
    devices: { type: 'integer', description: 'devices that report this version now' },
  },
} as const;

const rolloutWindow = {
  type: 'object',
  description:
    'new commands go out only daily from start to end (HH:MM; an end before the start runs past midnight) on the clock of timeZone (IANA, default UTC); absent or null: at any time',
  required: ['start', 'end'],
  properties: {
    start: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
    end: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
    timeZone: { type: 'string' },
  },
} as const;

export const RolloutViewSchema = {
  type: 'object',
  required: [
    'id',
    'release',
    'target',
    'state',
    'wave',
    'waves',
    'counts',
    'total',
    'waveSoakMinutes',
    'maxFailurePercent',
    'reason',
    'createdAt',
    'createdBy',
    'updatedAt',
    'driver',
    'window',
  ],
  properties: {
    id: str,
    release: str,
    target: { type: 'object', description: '{all: true}, {location}, {model} or {devices: [...]}' },
    state: { type: 'string', enum: ['running', 'paused', 'cancelled', 'done'] },
    wave: { type: 'integer', description: 'index of the wave being sent' },
    waves: {
      type: 'array',
      items: {
        type: 'object',
        required: ['percent', 'devices', 'counts'],
        properties: { percent: { type: 'number' }, devices: { type: 'integer' }, counts: deviceStateCounts },
      },
    },
    counts: deviceStateCounts,
    total: { type: 'integer' },
    waveSoakMinutes: { type: 'number' },
    maxFailurePercent: { type: 'number' },
    reason: strOrNull,
    createdAt: ms,
    createdBy: str,
    updatedAt: ms,
    driver: { type: ['string', 'null'], description: 'the node driving it' },
    window: { ...rolloutWindow, type: ['object', 'null'] },
  },
} as const;

/** GET /api/devices/<id>/ota. */
export const DeviceOtaSchema = {
  type: 'object',
  required: ['device', 'fw', 'pendingFw', 'pending', 'last'],
  properties: {
    device: str,
    fw: { ...strOrNull, description: 'the version the device last reported in hello' },
    pendingFw: { ...strOrNull, description: 'the release on its way to the device, until it confirms or gives up' },
    pending: {
      type: ['object', 'null'],
      required: ['rollout', 'release', 'state', 'progress', 'updatedAt'],
      properties: {
        rollout: str,
        release: str,
        state: { type: 'string', enum: ['sent', 'downloading', 'installed'] },
        progress: { type: ['integer', 'null'], description: 'percent downloaded' },
        updatedAt: ms,
      },
    },
    last: {
      type: ['object', 'null'],
      description: 'how the latest finished update ended',
      required: ['rollout', 'release', 'outcome', 'reason', 'at'],
      properties: {
        rollout: str,
        release: str,
        outcome: { type: 'string', enum: ['confirmed', 'failed', 'rolled-back'] },
        reason: { ...strOrNull, description: 'why it failed or rolled back' },
        at: ms,
      },
    },
  },
} as const;

export const RolloutCreateBodySchema = {
  type: 'object',
  required: ['release', 'target'],
  properties: {
    release: { type: 'string', description: 'the release version' },
    target: { type: 'object', description: '{all: true}, {location}, {model} or {devices: [...]}' },
    waves: { type: 'array', items: { type: 'number' }, description: 'cumulative percents, increasing, ending at 100 (default [1, 10, 50, 100])' },
    waveSoakMinutes: { type: 'number', description: 'wait after a wave settles before the next (default 30)' },
    maxFailurePercent: { type: 'number', description: 'a wave failing more than this pauses the rollout (default 5)' },
    window: rolloutWindow,
  },
} as const;

export const RolloutControlBodySchema = { type: 'object', properties: { reason: { type: 'string', maxLength: 500 } } } as const;
// ---- locations and pools (docs/architecture.md, Locations and pools)

export const CreateLocationBodySchema = {
  type: 'object',
  required: ['id', 'name'],
  properties: { id: idInput, name: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

export const LocationViewSchema = {
  type: 'object',
  required: ['id', 'name', 'createdAt'],
  properties: { id: str, name: str, createdAt: ms },
} as const;

export const LocationListItemSchema = {
  ...LocationViewSchema,
  required: [...LocationViewSchema.required, 'devices', 'free', 'waiting'],
  properties: {
    ...LocationViewSchema.properties,
    devices: { type: 'integer', description: 'pool devices' },
    free: { type: 'integer', description: 'pool devices online and not leased' },
    waiting: { type: 'integer', description: 'jobs in the pool queue' },
  },
} as const;

const LeaseOfDeviceSchema = {
  type: ['object', 'null'],
  required: ['since'],
  properties: {
    since: ms,
    agent: { type: 'string', description: 'the lessee; shown to admins and to the lessee only' },
    job: { type: 'string', description: 'shown to admins and to the lessee only' },
  },
} as const;

export const PoolQueueItemSchema = {
  type: 'object',
  required: ['job', 'kind', 'position', 'eta', 'queuedAt'],
  properties: {
    job: str,
    kind: str,
    position: { type: 'integer' },
    eta: { type: 'integer', description: 'ms until a device is expected to take it' },
    queuedAt: ms,
    agent: { type: 'string', description: "shown to admins and to the job's agent only" },
  },
} as const;

export const LocationDetailSchema = {
  ...LocationViewSchema,
  required: [...LocationViewSchema.required, 'devices', 'queue'],
  properties: {
    ...LocationViewSchema.properties,
    members: { type: 'array', items: str, description: 'agents of the location; admins only' },
    devices: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'machineCode', 'mode', 'caps', 'presence', 'lease'],
        properties: {
          id: str,
          machineCode: strOrNull,
          mode: { type: 'string', enum: ['owned', 'pool'] },
          caps: { type: 'array', items: str },
          presence: StatusSchema,
          lease: LeaseOfDeviceSchema,
          agent: { type: ['string', 'null'], description: "an owned device's holder; admins only" },
        },
      },
    },
    queue: { type: 'array', items: PoolQueueItemSchema },
  },
} as const;

export const LeaseViewSchema = {
  type: 'object',
  required: ['id', 'device', 'agent', 'location', 'job', 'startedAt', 'endedAt', 'endReason'],
  properties: { id: str, device: str, agent: str, location: str, job: str, startedAt: ms, endedAt: msOrNull, endReason: strOrNull },
} as const;

export const PatchDeviceBodySchema = {
  type: 'object',
  properties: {
    location: { type: ['string', 'integer', 'null'], description: 'the location the device is placed at; null for none' },
    mode: { type: 'string', enum: ['owned', 'pool'], description: 'refused while the device is bound, leased or has unfinished jobs' },
  },
} as const;

export const LocationLabelSchema = {
  type: 'object',
  required: ['location', 'name', 'url', 'fleet'],
  properties: {
    location: str,
    name: str,
    fleet: str,
    url: { type: 'string', description: "https://<host>/p/<location>.<sig>: selects the pool for the scanning agent's next job" },
  },
} as const;
