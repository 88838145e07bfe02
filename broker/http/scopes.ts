// Who may call a REST route is decided once per scope, not by each handler (docs/architecture.md,
// "API descriptions"). A scope is an encapsulated fastify context with one preHandler hook: in the
// session and admin scopes it sets request.principal, in the customer scope request.customer, and
// a route registered there cannot run without it. The hook runs after validation, as the handlers'
// own calls did, so a malformed body is still a 400 whoever sends it. Public routes (auth 'none')
// are registered outside any scope. At startup every route is held to the auth its routeSchema
// declares: a route documented as admin-only that sits outside the admin scope stops the broker.
import type { FastifyInstance, FastifyRequest, RouteOptions, preHandlerAsyncHookHandler } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { Context } from '../context';
import type { CustomerSession } from '../orders/sessions';
import { type Principal, bearerToken, principalOf, requireAdmin } from './auth';
import { type RouteDoc, declaredAuth } from './route-schema';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller of a session- or admin-scope route (an admin in the admin scope); reading it elsewhere throws. */
    readonly principal: Principal;
    /** The walk-up customer's session of a customer-scope route; reading it elsewhere throws. */
    readonly customer: CustomerSession;
  }
}

export type Scope = Exclude<RouteDoc['auth'], 'none'>;

/** What every routes plugin (routes-*.ts) is registered with. */
export interface RoutesOptions {
  ctx: Context;
}

const SCOPE = Symbol('fleetbind.scope');
const PRINCIPAL = Symbol('fleetbind.principal');
const CUSTOMER = Symbol('fleetbind.customer');

interface Slots {
  [PRINCIPAL]: Principal | null;
  [CUSTOMER]: CustomerSession | null;
}
const slots = (req: FastifyRequest): Slots => req as unknown as Slots;

function customerToken(req: FastifyRequest): string {
  const token = bearerToken(req);
  if (token === '') throw new ProtocolError(ErrorCode.UNAUTHORIZED, 'missing bearer token (the order session token)');
  return token;
}

function hookOf(ctx: Context, scope: Scope): preHandlerAsyncHookHandler {
  switch (scope) {
    case 'session':
      return async function sessionScope(req) {
        slots(req)[PRINCIPAL] = await principalOf(ctx, req);
      };
    case 'admin':
      return async function adminScope(req) {
        slots(req)[PRINCIPAL] = await requireAdmin(ctx, req);
      };
    case 'customer':
      // The session in the path must be the token's own.
      return async function customerScope(req) {
        slots(req)[CUSTOMER] = await ctx.orders.use(customerToken(req), (req.params as { session: string }).session);
      };
  }
}

/** The route's declared auth must be the scope it is registered in ('none': outside every scope). */
function checkRoute(this: FastifyInstance, r: RouteOptions): void {
  const scope: RouteDoc['auth'] = (this as unknown as { [SCOPE]?: Scope })[SCOPE] ?? 'none';
  const hidden = (r.schema as { hide?: boolean } | undefined)?.hide === true;
  // The web app's pages, its static files and the reference page are no part of the REST API.
  const declared = declaredAuth(r.schema) ?? (hidden ? 'none' : undefined);
  const where = `${[r.method].flat().join(',')} ${r.url}`;
  if (declared === undefined) throw new Error(`${where} has no routeSchema saying who may call it`);
  if (declared !== scope) throw new Error(`${where} declares auth '${declared}' but is registered in the '${scope}' scope`);
  if (scope === 'customer' && !r.url.includes(':session')) throw new Error(`${where}: a customer route names its session in the path (:session)`);
}

/** Installs the request decorations and the startup check; before any route is registered. */
export function installScopes(app: FastifyInstance): void {
  app.decorateRequest(PRINCIPAL, null);
  app.decorateRequest(CUSTOMER, null);
  app.decorateRequest('principal', {
    getter(this: FastifyRequest) {
      const p = slots(this)[PRINCIPAL];
      if (p === null) throw new Error(`request.principal read by ${this.method} ${this.routeOptions.url}, which is in neither the session nor the admin scope`);
      return p;
    },
  });
  app.decorateRequest('customer', {
    getter(this: FastifyRequest) {
      const s = slots(this)[CUSTOMER];
      if (s === null) throw new Error(`request.customer read by ${this.method} ${this.routeOptions.url}, which is not in the customer scope`);
      return s;
    },
  });
  app.addHook('onRoute', checkRoute);
}

/**
 * Registers `routes` in a scope: its own encapsulated context, whose preHandler authenticates
 * every route in it before the handler runs. A routes file may open the same scope more than once,
 * to keep its routes in the order the API document lists them.
 */
export async function inScope(app: FastifyInstance, ctx: Context, scope: Scope, routes: (scoped: FastifyInstance) => void): Promise<void> {
  await app.register(async (scoped) => {
    scoped.decorate(SCOPE, scope);
    scoped.addHook('preHandler', hookOf(ctx, scope));
    routes(scoped);
  });
}
