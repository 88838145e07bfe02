// Agent and admin requests over MQTT (fb/v1/a/<agent>/req, fb/v1/admin/<name>/req). Every request
// gets exactly one response: a result, or a specific error that changed nothing.
import { ErrorCode, ProtocolError, type WireError } from '../protocol/errors';
import { type RequestId, parseAdminRequest, parseAgentRequest, requestIdOf } from '../protocol/messages';
import { PAYLOAD_LIMIT_DEFAULT } from '../protocol/topics';
import { parseJson } from '../protocol/validate';
import { type AdminWho, type AgentWho, runAdmin, runAgent } from './agent-ops';
import type { Context } from './context';
import { respond } from './publisher';

function toWire(err: ProtocolError, forAdmin: boolean): WireError {
  const wire = err.toWire();
  // Who holds a device is shown to admins only.
  if (!forAdmin) delete wire.agent;
  return wire;
}

/** Refuses an agent's request over its rate limits (docs/architecture.md, Request rate limits). */
async function checkRate(ctx: Context, who: AgentWho, connection: object): Promise<void> {
  const refused = await ctx.requestLimits.take(connection, who.id, Date.now());
  if (!refused) return;
  ctx.metrics.rateLimited.inc({ scope: refused.scope });
  const per = refused.scope === 'agent' ? 'this agent' : 'this connection';
  throw new ProtocolError(ErrorCode.RATE_LIMITED, `too many requests on ${per}; try again in ${refused.retryAfterMs} ms`, undefined, {
    retryAfterMs: refused.retryAfterMs,
  });
}

/**
 * `connection` identifies the MQTT connection the request came on, for its own rate limit;
 * `oversizeId` is set (to the request's id, or null) when the ACL emptied an oversize request.
 */
export async function handleRequest(ctx: Context, who: AgentWho | AdminWho, payload: Buffer, connection: object, oversizeId?: RequestId): Promise<void> {
  let raw: unknown = null;
  let op = 'invalid';
  try {
    if (oversizeId !== undefined) {
      raw = { id: oversizeId };
      throw new ProtocolError(ErrorCode.TOO_LARGE, `request over the ${PAYLOAD_LIMIT_DEFAULT}-byte payload limit; nothing was done`);
    }
    raw = parseJson(payload.toString('utf8'));
    if (who.kind === 'agent') await checkRate(ctx, who, connection);
    let result: unknown;
    if (who.kind === 'agent') {
      const req = parseAgentRequest(raw);
      op = req.op;
      result = await runAgent(ctx, who, req);
    } else {
      const req = parseAdminRequest(raw);
      op = req.op;
      result = await runAdmin(ctx, who, req);
    }
    ctx.metrics.requests.inc({ op, outcome: 'ok' });
    await respond(ctx, who, { id: requestIdOf(raw), ok: true, result });
  } catch (err) {
    const perr = err instanceof ProtocolError ? err : null;
    if (!perr) ctx.log.error({ err, op, who: `${who.kind}:${who.id}` }, 'request failed with an internal error');
    const wire = perr ? toWire(perr, who.kind === 'admin') : { code: ErrorCode.INTERNAL, message: 'internal error; nothing was changed' };
    ctx.metrics.requests.inc({ op, outcome: wire.code });
    await respond(ctx, who, { id: requestIdOf(raw), ok: false, error: wire });
  }
}
