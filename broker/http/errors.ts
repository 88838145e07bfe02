// Maps errors to HTTP answers of the form {error:{code,message}}.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, ProtocolError, type WireError } from '../../protocol/errors';
import type { Logger } from '../logger';

const STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_MACHINE: 404,
  CONFLICT: 409,
  ALREADY_REGISTERED: 409,
  BOUND_TO_OTHER: 409,
  RESERVED: 409,
  NOT_BOUND: 409,
  LIMIT: 409,
  QUEUE_FULL: 409,
  NO_DEVICE_AVAILABLE: 409,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  BAD_SIGNATURE: 403,
  LINK_EXPIRED: 410,
  WRONG_LABEL: 400,
  SESSION_EXPIRED: 401,
  WRONG_MACHINE: 403,
  NOT_TAKING_ORDERS: 409,
  BAD_IMAGE: 415,
  IMAGE_BOMB: 422,
};

const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  401: ErrorCode.UNAUTHORIZED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  413: ErrorCode.TOO_LARGE,
  429: ErrorCode.RATE_LIMITED,
};

export function httpStatus(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

interface SchemaIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Fields that carry ids keep the BAD_ID code the handlers' normaliser gives them. */
const ID_FIELDS = new Set(['id', 'agent', 'device', 'mac', 'machineCode']);

/** A schema failure as the API's own error: BAD_REQUEST (BAD_ID for ids) naming the field. */
function schemaError(issues: SchemaIssue[], context: string | undefined): WireError {
  const e = issues[0]!;
  const path = e.instancePath.split('/').filter(Boolean);
  if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') path.push(e.params.missingProperty);
  const field = path.join('.') || (context === 'body' ? 'body' : (context ?? 'request'));
  const what = e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid');
  const code = ID_FIELDS.has(field) && e.keyword === 'type' ? ErrorCode.BAD_ID : ErrorCode.BAD_REQUEST;
  return { code, message: `${field} ${what}`, field };
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void => {
    let wire: WireError;
    let status: number;
    if (err instanceof ProtocolError) {
      wire = err.toWire();
      status = httpStatus(err.code);
      // A refusal that says how long to wait says it in the header clients know too.
      if (wire.retryAfterMs !== undefined && !reply.hasHeader('retry-after')) reply.header('retry-after', Math.max(1, Math.ceil(wire.retryAfterMs / 1000)));
    } else if ('validation' in err && Array.isArray(err.validation) && err.validation.length > 0) {
      wire = schemaError(err.validation as SchemaIssue[], (err as { validationContext?: string }).validationContext);
      status = 400;
    } else if ('code' in err && err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      wire = { code: ErrorCode.TOO_LARGE, message: 'request body is too large' };
      status = 413;
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      const invalidJson =
        'code' in err && (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError);
      const message = invalidJson ? 'request body is not valid JSON' : err.message;
      // Code, status and message agree: a 403 or 404 from the framework says so in its code.
      wire = { code: CODE_OF_STATUS[err.statusCode] ?? ErrorCode.BAD_REQUEST, message };
      status = err.statusCode;
    } else {
      log.error({ err, url: req.url, method: req.method }, 'request failed with an internal error');
      wire = { code: ErrorCode.INTERNAL, message: 'internal error; nothing was changed' };
      status = 500;
    }
    void reply.status(status).send({ error: wire });
  };
}
