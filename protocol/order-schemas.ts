// REST shapes of walk-up orders as JSON Schema (docs/architecture.md, "Walk-up orders" and
// "API descriptions"); plain data, like rest-schemas.ts.
import { JOB_STATES } from './jobs';

const str = { type: 'string' } as const;
const ms = { type: 'integer', description: 'ms since the epoch' } as const;
const intOrNull = { type: ['integer', 'null'] } as const;
const orderError = { type: ['object', 'null'], required: ['code', 'message'], properties: { code: str, message: str } } as const;

export const MachinePublicSchema = {
  type: 'object',
  required: ['code', 'model', 'status', 'queueLength'],
  properties: {
    code: str,
    model: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['idle', 'busy', 'offline', 'maintenance', 'closed'] },
    queueLength: { type: 'integer' },
  },
} as const;

export const OrderViewSchema = {
  type: 'object',
  required: ['order', 'machine', 'state', 'position', 'eta', 'progress', 'copies', 'error', 'thumb', 'createdAt'],
  properties: {
    order: str,
    machine: str,
    state: { type: 'string', enum: JOB_STATES },
    position: { ...intOrNull, description: '0 while printing, 1 for next; null once ended' },
    eta: { ...intOrNull, description: 'ms until expected done' },
    progress: { type: ['number', 'null'] },
    copies: { type: 'integer' },
    error: orderError,
    thumb: { type: 'string', description: 'signed path of the thumbnail (PNG)' },
    createdAt: ms,
    device: str,
    session: str,
  },
} as const;

export const OpenedSessionSchema = {
  type: 'object',
  required: ['session', 'token', 'expiresAt', 'idleMs', 'machine'],
  properties: {
    session: str,
    token: { type: 'string', description: 'bearer token; MQTT password of customer:<session>' },
    expiresAt: ms,
    idleMs: { type: 'integer' },
    machine: MachinePublicSchema,
  },
} as const;

export const SessionStateSchema = {
  type: 'object',
  required: ['session', 'expiresAt', 'machine', 'orders'],
  properties: { session: str, expiresAt: ms, machine: MachinePublicSchema, orders: { type: 'array', items: OrderViewSchema } },
} as const;

export const UploadedDesignSchema = {
  type: 'object',
  required: ['design', 'size', 'width', 'height', 'thumb'],
  properties: {
    design: { type: 'string', description: 'sha256 of the print-ready image' },
    size: { type: 'integer' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    thumb: str,
  },
} as const;

/** The upload's multipart/form-data body: one part named `file`. */
export const designUploadBody = (maxBytes: number) =>
  ({
    type: 'object',
    required: ['file'],
    properties: {
      file: {
        type: 'string',
        format: 'binary',
        contentMediaType: 'application/octet-stream',
        description: `the design, at most ${maxBytes} bytes: a PNG, JPEG or WebP image, judged by its content (not its name or Content-Type)`,
      },
    },
  }) as const;

export const MoveOrderBodySchema = {
  type: 'object',
  required: ['position'],
  properties: { position: { type: 'integer', minimum: 1, description: 'the place among the waiting orders of its machine: 1 is the next to print' } },
} as const;

export const OpenSessionBodySchema = {
  type: 'object',
  required: ['label'],
  properties: { label: { type: 'string', description: 'the order label: its URL, /o/CODE.SIG or CODE.SIG' } },
} as const;

export const PlaceOrderBodySchema = {
  type: 'object',
  required: ['design'],
  properties: {
    design: str,
    copies: { type: 'integer', minimum: 1, maximum: 20 },
    machine: { type: 'string', description: 'optional: the machine code the customer believes it orders on' },
  },
} as const;

export const OrderSettingsBodySchema = {
  type: 'object',
  properties: { enabled: { type: 'boolean', description: 'admins only' }, maintenance: { type: 'boolean' } },
} as const;

export const OrderSettingsSchema = {
  type: 'object',
  required: ['device', 'enabled', 'maintenance'],
  properties: { device: str, enabled: { type: 'boolean' }, maintenance: { type: 'boolean' } },
} as const;
