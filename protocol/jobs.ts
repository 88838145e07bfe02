// Built-in job kinds and their parameter schemas (docs/architecture.md, Jobs). Shared by the broker
// (validates submits) and the firmware (validates commands before running them).
import { ErrorCode, ProtocolError } from './errors';
import { PAYMENT_TEMPLATES, type PaymentTemplate, checkPaymentText } from './payment/templates';
import { type Obj, object, oneOf, optBool, optNum, optStr, num, str } from './validate';

export const JOB_STATES = ['queued', 'dispatched', 'running', 'done', 'failed', 'cancelled', 'expired', 'interrupted'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_JOB_STATES: readonly JobState[] = ['done', 'failed', 'cancelled', 'expired', 'interrupted'];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CURRENCY = /^[A-Z]{3}$/;
const P = ErrorCode.BAD_PARAMS;
const SHA256 = /^[0-9a-f]{64}$/;
/** A design the device can stream: the broker's upload limit is far below this. */
export const PRINT_MAX_BYTES = 64 * 1024 * 1024;

export interface QrShowParams {
  text: string;
  caption: string;
  amount?: number;
  currency?: string;
  /** Absolute end (ms since epoch): if it has passed before the QR is displayed, the QR is never shown. */
  expiresAt?: number;
  /** How long the QR stays valid once displayed, measured by the device on its uptime clock. */
  expiresInSeconds?: number;
  /** A payment QR that reserves the device: done only when the payment is confirmed. */
  hold?: boolean;
  /** The payment payload format `text` must follow (protocol/payment/templates.ts). */
  template?: PaymentTemplate;
}
export interface IdentifyParams {
  seconds: number;
}
export interface SerialSendParams {
  data: string;
  timeoutMs: number;
  expect?: string;
}
/**
 * A walk-up order's print (docs/architecture.md, "Walk-up orders"): the design is a blob the
 * device fetches by `url`, a short-lived signed URL the broker adds to each cmd it sends.
 */
export interface PrintParams {
  design: string;
  size: number;
  copies: number;
  model: string;
  url?: string;
}
export interface JobParamsByKind {
  'qr.show': QrShowParams;
  identify: IdentifyParams;
  'serial.send': SerialSendParams;
  print: PrintParams;
}
export type JobKind = keyof JobParamsByKind;

interface KindSpec<K extends JobKind> {
  /** Safe to run again after an interruption (docs/architecture.md, Jobs). */
  idempotent: boolean;
  /** A prior for the ETA before any real durations are known, in ms. */
  typicalMs: number;
  parse(params: Obj): JobParamsByKind[K];
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export const JOB_KINDS: { [K in JobKind]: KindSpec<K> } = {
  'qr.show': {
    idempotent: true,
    typicalMs: 30_000,
    parse: (p) => {
      const template = p.template === undefined ? undefined : oneOf(p, 'template', PAYMENT_TEMPLATES, P);
      const text = str(p, 'text', { min: 1, max: 1024, code: P });
      if (template !== undefined) checkPaymentText(template, text);
      return defined({
        text,
        caption: str(p, 'caption', { max: 64, code: P }),
        amount: optNum(p, 'amount', { min: 0, max: 1e9, code: P }),
        currency: optStr(p, 'currency', { pattern: CURRENCY, code: P }),
        expiresAt: optNum(p, 'expiresAt', { min: 0, integer: true, code: P }),
        expiresInSeconds: optNum(p, 'expiresInSeconds', { min: 1, max: 86_400, integer: true, code: P }),
        hold: optBool(p, 'hold', P),
        template,
      });
    },
  },
  identify: {
    idempotent: true,
    typicalMs: 5_000,
    parse: (p) => ({ seconds: num(p, 'seconds', { min: 1, max: 60, integer: true, code: P }) }),
  },
  'serial.send': {
    idempotent: false,
    typicalMs: 2_000,
    parse: (p) =>
      defined({
        data: str(p, 'data', { min: 1, max: 4096, pattern: BASE64, code: P }),
        timeoutMs: num(p, 'timeoutMs', { min: 1, max: 60_000, integer: true, code: P }),
        expect: optStr(p, 'expect', { min: 1, max: 256, pattern: BASE64, code: P }),
      }),
  },
  print: {
    // Sent again under the same job id, which the device remembers: a print still running
    // carries on where it was, a finished one answers with its ending. A device that lost it
    // starts over, and the machine prints only at END, so nothing is printed twice.
    idempotent: true,
    typicalMs: 60_000,
    parse: (p) =>
      defined({
        design: str(p, 'design', { pattern: SHA256, code: P }),
        size: num(p, 'size', { min: 1, max: PRINT_MAX_BYTES, integer: true, code: P }),
        copies: num(p, 'copies', { min: 1, max: 20, integer: true, code: P }),
        model: str(p, 'model', { min: 1, max: 64, code: P }),
        url: optStr(p, 'url', { min: 1, max: 1024, code: P }),
      }),
  },
};

export function isJobKind(kind: unknown): kind is JobKind {
  return typeof kind === 'string' && Object.hasOwn(JOB_KINDS, kind);
}

/** Validates params for a kind; throws UNSUPPORTED for unknown kinds and BAD_PARAMS naming the field. */
export function parseJobParams<K extends JobKind>(kind: K, params: unknown): JobParamsByKind[K];
export function parseJobParams(kind: string, params: unknown): JobParamsByKind[JobKind];
export function parseJobParams(kind: string, params: unknown): JobParamsByKind[JobKind] {
  if (!isJobKind(kind)) throw new ProtocolError(ErrorCode.UNSUPPORTED, `unknown job kind '${kind}'`, 'kind');
  const spec = JOB_KINDS[kind] as KindSpec<JobKind>;
  return spec.parse(object(params, 'params', P));
}
