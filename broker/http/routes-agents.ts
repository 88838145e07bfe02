// Admin management of agents. Ids go through the one normaliser, so 263 and "263" are one agent.
import type { FastifyInstance } from 'fastify';
import { AgentDetailSchema, AgentListItemSchema, AgentViewSchema, CreateAgentBodySchema, PatchAgentBodySchema } from '../../protocol/rest-schemas';
import { arrayOf, routeSchema } from './route-schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import { type Obj, optBool, optStr, str } from '../../protocol/validate';
import { PASSWORD_COST, hashSecret } from '../auth/secrets';
import { adminRebind } from '../claims';
import type { Context } from '../context';
import { type AgentPatch, agentView, createAgent, getAgent, listAgents, updateAgent } from '../store/accounts';
import { actorOf } from './auth';
import { credentialKey } from '../live-credentials';
import { clearBlocks } from './routes-blocks';
import { bodyOf } from './body';
import { type PoolSettings, locationsOf, setAgentLocations, setPoolSettings } from '../store/locations';
import { type RoutesOptions, inScope } from './scopes';

/** What this module reads of the node's context. */
type RoutesAgentsContext = Pick<Context, 'bindings' | 'db' | 'kick' | 'log' | 'now'>;

/** Locations, primary device and fallback (docs/architecture.md, Locations and pools); each change audited. */
async function patchPoolMembership(ctx: RoutesAgentsContext, agent: string, body: Obj, actor: string): Promise<void> {
  if (body.locations !== undefined) {
    if (!Array.isArray(body.locations)) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'locations must be a list of location ids', 'locations');
    const ids = [...new Set(body.locations.map((l) => normaliseId(l, 'location id', 'locations')))];
    await setAgentLocations(ctx.db, agent, ids, actor, ctx.now());
  }
  const settings: Partial<PoolSettings> = {};
  if (body.primary !== undefined) settings.primary = body.primary === null ? null : normaliseId(body.primary, 'device id', 'primary');
  if (body.fallback !== undefined) settings.fallback = body.fallback === 'pool' ? 'pool' : null;
  if (Object.keys(settings).length > 0) await setPoolSettings(ctx.db, agent, settings, actor, ctx.now());
}

function deviceLimit(body: Obj): number | null | undefined {
  const v = body.deviceLimit;
  if (v === undefined || v === null) return v as undefined | null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 10_000)
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'deviceLimit must be an integer from 1 to 10000, or null for the default', 'deviceLimit');
  return v;
}

const password = (body: Obj): string => str(body, 'password', { min: 8, max: 256 });

export async function agentRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.post(
      '/api/agents',
      { schema: routeSchema({ summary: 'Create an agent', tag: 'agents', auth: 'admin', body: CreateAgentBodySchema, response: { 201: AgentViewSchema } }) },
      async (req, reply) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const id = normaliseId(body.id, 'agent id', 'id');
        const name = str(body, 'name', { min: 1, max: 128 });
        const limit = deviceLimit(body) ?? null;
        await createAgent(ctx.db, { id, name, passwordHash: await hashSecret(password(body), PASSWORD_COST), deviceLimit: limit }, actorOf(p), ctx.now());
        ctx.log.info({ agent: id, actor: actorOf(p) }, 'agent created');
        return reply.status(201).send(agentView((await getAgent(ctx.db, id))!));
      },
    );

    admin.get(
      '/api/agents',
      {
        schema: routeSchema({
          summary: 'Every agent with how many devices it holds',
          tag: 'agents',
          auth: 'admin',
          response: { 200: arrayOf(AgentListItemSchema) },
        }),
      },
      async () => {
        const rows = await listAgents(ctx.db);
        return rows.map((r) => ({ ...agentView(r), devices: ctx.bindings.devicesOf(r.id).length }));
      },
    );

    admin.get<{ Params: { id: string } }>(
      '/api/agents/:id',
      {
        schema: routeSchema({
          summary: 'One agent with its devices and locations',
          tag: 'agents',
          auth: 'admin',
          params: ['id'],
          response: { 200: AgentDetailSchema },
        }),
      },
      async (req) => {
        const id = normaliseId(req.params.id, 'agent id', 'id');
        const row = await getAgent(ctx.db, id);
        if (!row) throw new ProtocolError(ErrorCode.NOT_FOUND, `no agent ${id}`, 'id');
        return { ...agentView(row), devices: ctx.bindings.devicesOf(id), locations: await locationsOf(ctx.db, id) };
      },
    );

    admin.patch<{ Params: { id: string } }>(
      '/api/agents/:id',
      {
        schema: routeSchema({
          summary: 'Rename, re-password, disable or re-limit an agent; disabling or a new password closes its sessions',
          tag: 'agents',
          auth: 'admin',
          params: ['id'],
          body: PatchAgentBodySchema,
          response: { 200: AgentViewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const id = normaliseId(req.params.id, 'agent id', 'id');
        const body = bodyOf(req.body);
        const patch: AgentPatch = {};
        const name = optStr(body, 'name', { min: 1, max: 128 });
        const disabled = optBool(body, 'disabled');
        const limit = deviceLimit(body);
        if (name !== undefined) patch.name = name;
        if (disabled !== undefined) patch.disabled = disabled;
        if (limit !== undefined) patch.deviceLimit = limit;
        if (body.password !== undefined) patch.passwordHash = await hashSecret(password(body), PASSWORD_COST);
        const poolOnly = Object.keys(patch).length === 0 && ['locations', 'primary', 'fallback'].some((k) => body[k] !== undefined);
        const ended = poolOnly ? [] : await updateAgent(ctx.db, id, patch, actorOf(p), ctx.now());
        await patchPoolMembership(ctx, id, body, actorOf(p));
        // A disabled agent or a changed password ends every session, live connections included.
        for (const hash of ended) await ctx.kick({ kind: 'credential', id: credentialKey.session(hash) }, 'kicked');
        // A disabled agent keeps no devices: each is released (forced, so a held job is cancelled),
        // audited as the admin's act, and free to be claimed by someone on duty.
        if (disabled === true) {
          for (const device of ctx.bindings.devicesOf(id))
            await adminRebind(ctx, { actor: actorOf(p), device, to: null, reason: `agent ${id} disabled`, force: true });
        }
        return agentView((await getAgent(ctx.db, id))!);
      },
    );

    admin.post<{ Params: { id: string } }>(
      '/api/agents/:id/unlock',
      {
        schema: routeSchema({
          summary: "Clear the agent's failed-login blocks",
          tag: 'agents',
          auth: 'admin',
          params: ['id'],
          response: { 200: { type: 'object', required: ['id', 'cleared'], properties: { id: { type: 'string' }, cleared: { type: 'integer' } } } },
        }),
      },
      async (req) => {
        const p = req.principal;
        const id = normaliseId(req.params.id, 'agent id', 'id');
        if (!(await getAgent(ctx.db, id))) throw new ProtocolError(ErrorCode.NOT_FOUND, `no agent ${id}`, 'id');
        const cleared = await clearBlocks(ctx, { subject: `agent:${id}` }, actorOf(p));
        return { id, cleared };
      },
    );
  });
}
