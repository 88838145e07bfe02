// One route's schema for fastify (request validation) and @fastify/swagger (the OpenAPI document),
// built from the shapes in protocol/rest-schemas.ts. Responses are documentation: the broker
// serialises with JSON.stringify (app.ts), so a schema can never silently drop a field.
import type { FastifySchema } from 'fastify';
import { ErrorResponseSchema } from '../../protocol/rest-schemas';

type Json = Record<string, unknown>;

export interface RouteDoc {
  summary: string;
  tag: string;
  /** Who may call it: anyone, any session (agent or admin), admins only, or a walk-up customer; the route must be registered in that scope (scopes.ts). */
  auth: 'none' | 'session' | 'admin' | 'customer';
  params?: readonly string[];
  query?: Record<string, Json>;
  body?: Json;
  /**
   * A multipart/form-data body, for the document only: @fastify/multipart reads such a body in the
   * handler, so fastify must not validate it (openapi.ts moves it into the document's requestBody).
   */
  multipart?: Json;
  /** Success responses by status; null for an empty 204. */
  response: Record<number, Json | null>;
}

const AUTH_WORDS = {
  admin: 'Admins only (an admin session or the admin token).',
  session: 'Any session: an agent (its own things only) or an admin.',
  customer: 'A walk-up customer session token (POST /api/orders/sessions), for its own session only.',
} as const;

/**
 * Where a route's schema keeps who may call it (a symbol: neither Ajv nor the OpenAPI document
 * reads it); scopes.ts holds each route to it.
 */
export const DECLARED_AUTH = Symbol('fleetbind.auth');

/** Who a route built with routeSchema says may call it; undefined for a route built without it. */
export function declaredAuth(schema: unknown): RouteDoc['auth'] | undefined {
  return (schema as { [DECLARED_AUTH]?: RouteDoc['auth'] } | undefined)?.[DECLARED_AUTH];
}

/** The schema key a multipart body waits under until the OpenAPI document is built. */
export const MULTIPART_DOC = 'x-multipart-body';

export function routeSchema(d: RouteDoc): FastifySchema {
  const response: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(d.response)) response[status] = schema === null ? { description: 'No content', type: 'null' } : schema;
  response['4xx'] = { description: 'refused: {error:{code, message, field?}}', ...ErrorResponseSchema };
  response['5xx'] = { description: 'unavailable or internal error', ...ErrorResponseSchema };
  return {
    summary: d.summary,
    tags: [d.tag],
    ...(d.auth === 'none' ? {} : { security: [{ bearer: [] }], description: AUTH_WORDS[d.auth] }),
    ...(d.params ? { params: { type: 'object', required: [...d.params], properties: Object.fromEntries(d.params.map((p) => [p, { type: 'string' }])) } } : {}),
    ...(d.query ? { querystring: { type: 'object', properties: d.query } } : {}),
    ...(d.body ? { body: d.body } : {}),
    ...(d.multipart ? { [MULTIPART_DOC]: d.multipart } : {}),
    response,
    [DECLARED_AUTH]: d.auth,
  } as FastifySchema;
}

export const arrayOf = (items: Json): Json => ({ type: 'array', items });
/** A query parameter: strings on the wire, parsed and checked by the handler. */
export const q = (description: string): Json => ({ type: 'string', description });
