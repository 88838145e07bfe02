// What each request op does, one table per kind of client (docs/architecture.md, Parts and
// layout). Keyed by the protocol's closed unions of ops, so a new op does not compile until it
// has a handler here; an op string outside the union is refused while parsing, before dispatch.
import type { AdminOp, AdminRequest, AdminRequestFor, AgentOp, AgentRequest, AgentRequestFor } from '../protocol/messages';
import { type ClaimsContext, adminRebind, claim, release } from './claims';
import type { Context } from './context';
import type { Identity } from './identity';
import { bindingsOf, boundDevice } from './publisher';
import { listDevices } from './store/devices';

export type AgentWho = Extract<Identity, { kind: 'agent' }>;
export type AdminWho = Extract<Identity, { kind: 'admin' }>;

/** What the agent and admin operations read of the node: the claims' slice and the job system. */
export type OpsContext = ClaimsContext & Pick<Context, 'jobs' | 'machines' | 'pools'>;

type AgentOps = { readonly [O in AgentOp]: (ctx: OpsContext, who: AgentWho, req: AgentRequestFor<O>) => Promise<unknown> };
type AdminOps = { readonly [O in AdminOp]: (ctx: OpsContext, who: AdminWho, req: AdminRequestFor<O>) => Promise<unknown> };

const agentOps: AgentOps = {
  claim: (ctx, who, req) => claim(ctx, who.id, req.target, req.code),
  release: (ctx, who, req) => release(ctx, who.id, req.device),
  list: async (ctx, who) => bindingsOf(ctx, who.id),
  // The pools route a submit to a device, a pool or the agent's primary (broker/pools/pools.ts).
  submit: (ctx, who, req) => ctx.pools.submit(who.id, req),
  // A job still waiting in a pool has no device queue yet: the pool withdraws it.
  cancel: async (ctx, who, req) => {
    const by = { kind: 'agent' as const, id: who.id };
    if (await ctx.pools.cancelWaiting(by, req.job)) return { job: req.job, state: 'cancelled', pending: null };
    return ctx.jobs.requests.cancel(by, req.job);
  },
  jobs: async (ctx, who, req) => ({
    device: req.device,
    at: ctx.now(),
    jobs: await ctx.jobs.requests.list(who.id, { device: req.device, ...(req.limit === undefined ? {} : { limit: req.limit }) }),
  }),
  // Agents change the settings an admin made agent-editable.
  settings: (ctx, who, req) =>
    ctx.machines.shadows.setDesired(
      req.device,
      { kind: 'agent', id: who.id },
      { settings: req.settings, ...(req.version === undefined ? {} : { version: req.version }) },
    ),
};

const adminOps: AdminOps = {
  transfer: (ctx, who, req) => adminRebind(ctx, { actor: `admin:${who.id}`, device: req.device, to: req.agent, reason: req.reason, force: req.force === true }),
  release: (ctx, who, req) => adminRebind(ctx, { actor: `admin:${who.id}`, device: req.device, to: null, reason: req.reason, force: req.force === true }),
  list: async (ctx) => (await listDevices(ctx.db)).map((r) => ({ ...boundDevice(ctx, r), agent: r.agent_id })),
  settings: (ctx, who, req) =>
    ctx.machines.shadows.setDesired(
      req.device,
      { kind: 'admin', id: who.id },
      {
        settings: req.settings,
        ...(req.version === undefined ? {} : { version: req.version }),
        ...(req.agentEditable === undefined ? {} : { agentEditable: req.agentEditable }),
      },
    ),
};

// The op and its request arrive as one value; naming the op's type lets the compiler pair each
// handler with its own request shape.
function runOp<O extends AgentOp>(ctx: OpsContext, who: AgentWho, op: O, req: AgentRequestFor<O>): Promise<unknown> {
  return agentOps[op](ctx, who, req);
}

function runAdminOp<O extends AdminOp>(ctx: OpsContext, who: AdminWho, op: O, req: AdminRequestFor<O>): Promise<unknown> {
  return adminOps[op](ctx, who, req);
}

export function runAgent(ctx: OpsContext, who: AgentWho, req: AgentRequest): Promise<unknown> {
  return runOp(ctx, who, req.op, req);
}

export function runAdmin(ctx: OpsContext, who: AdminWho, req: AdminRequest): Promise<unknown> {
  return runAdminOp(ctx, who, req.op, req);
}
