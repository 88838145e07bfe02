// Error codes on the wire. Every refusal carries one of these plus a human message.
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  BAD_ID: 'BAD_ID',
  BAD_PARAMS: 'BAD_PARAMS',
  UNKNOWN_OP: 'UNKNOWN_OP',
  TOO_LARGE: 'TOO_LARGE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  BOUND_TO_OTHER: 'BOUND_TO_OTHER',
  UNKNOWN_MACHINE: 'UNKNOWN_MACHINE',
  NOT_BOUND: 'NOT_BOUND',
  RESERVED: 'RESERVED',
  LIMIT: 'LIMIT',
  UNSUPPORTED: 'UNSUPPORTED',
  QUEUE_FULL: 'QUEUE_FULL',
  NO_ACK: 'NO_ACK',
  UNBOUND: 'UNBOUND',
  /** A submit that names no device, pool or primary, or names them ambiguously (docs/architecture.md, Locations and pools). */
  BAD_TARGET: 'BAD_TARGET',
  /** No device of the pool can take the job at this instant: every capable one is offline. */
  NO_DEVICE_AVAILABLE: 'NO_DEVICE_AVAILABLE',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TOKEN_USED_UP: 'TOKEN_USED_UP',
  ALREADY_REGISTERED: 'ALREADY_REGISTERED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  /** A signed URL's signature does not match what it names. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** A signed URL whose time is up. */
  LINK_EXPIRED: 'LINK_EXPIRED',
  /** A label of another purpose: a claim label where an order label was asked for, or the reverse. */
  WRONG_LABEL: 'WRONG_LABEL',
  /** A walk-up customer session that timed out or was ended. */
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  /** A walk-up customer session used for a machine other than its own. */
  WRONG_MACHINE: 'WRONG_MACHINE',
  /** The machine takes no orders now (maintenance, orders off, or no operator). */
  NOT_TAKING_ORDERS: 'NOT_TAKING_ORDERS',
  /** An upload that is not a PNG, JPEG or WebP image by its bytes, or does not decode as one. */
  BAD_IMAGE: 'BAD_IMAGE',
  /** An image that would decode to far more pixels than its size allows (a decompression bomb). */
  IMAGE_BOMB: 'IMAGE_BOMB',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  code: ErrorCode;
  message: string;
  /** Which input field was wrong, when one was. */
  field?: string;
  /** BOUND_TO_OTHER: when the current binding started (ms since epoch). */
  since?: number;
  /** BOUND_TO_OTHER: the holder, shown to admins only. */
  agent?: string;
  /** RATE_LIMITED: how long to wait before the next request is answered. */
  retryAfterMs?: number;
  /** NO_DEVICE_AVAILABLE: the pool's capable devices at that instant. */
  counts?: PoolCounts;
  /** BAD_TARGET: what the agent may name instead. */
  options?: { devices: string[]; pools: string[]; primary: string | null };
  /** UNAUTHORIZED, FORBIDDEN or UNAVAILABLE for an identity-provider token: which check refused it. */
  reason?: TokenRefusal;
}

/** How a pool's devices that can run a kind stand at one instant. */
export interface PoolCounts {
  location: string;
  online: number;
  busy: number;
  offline: number;
}

/**
 * Why a token from the operator's identity provider was refused (see docs/architecture.md,
 * "Agent identity from the operator's identity provider"). Each has its own word, so a client and
 * the metrics can tell them apart.
 */
export const TOKEN_REFUSALS = [
  'alg-none',
  'alg-not-allowed',
  'bad-signature',
  'unknown-key',
  'wrong-issuer',
  'wrong-audience',
  'expired',
  'not-yet-valid',
  'missing-claim',
  'malformed',
  'bad-agent-id',
  'agent-mismatch',
  'unknown-agent',
  'agent-disabled',
  'jwks-unavailable',
] as const;
export type TokenRefusal = (typeof TOKEN_REFUSALS)[number];

export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly extra: Omit<WireError, 'code' | 'message' | 'field'>;
  constructor(code: ErrorCode, message: string, field?: string, extra: Omit<WireError, 'code' | 'message' | 'field'> = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.field = field;
    this.extra = extra;
  }
  toWire(): WireError {
    const e: WireError = { code: this.code, message: this.message, ...this.extra };
    if (this.field !== undefined) e.field = this.field;
    return e;
  }
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}
