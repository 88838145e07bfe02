// Jobs over REST: look-up and listing for the owning agent or an admin, export of a job's history
// and data, cancelling by the owning agent or an admin, and completion of a held payment QR by the owning agent or a service (admin) token.
import type { FastifyInstance } from 'fastify';
import { JobListItemSchema, JobViewSchema, PaymentSettingsSchema } from '../../protocol/rest-schemas';
import { arrayOf, q, routeSchema } from './route-schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import { JOB_STATES, type JobState } from '../../protocol/jobs';
import { exportFormat, exportJob } from '../jobs/export';
import { type RoutesOptions, inScope } from './scopes';

function limitOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'limit must be an integer from 1 to 1000', 'limit');
  return n;
}

function stateOf(v: string | undefined): JobState | undefined {
  if (v === undefined) return undefined;
  if (!(JOB_STATES as readonly string[]).includes(v)) throw new ProtocolError(ErrorCode.BAD_REQUEST, `state must be one of: ${JOB_STATES.join(', ')}`, 'state');
  return v as JobState;
}

export async function jobRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  const jobParam = (raw: string): string => normaliseId(raw, 'job id', 'id');

  await inScope(app, ctx, 'session', (session) => {
    // The job form offers the fleet's payment template first, and the placeholder only outside production.
    session.get(
      '/api/payment-settings',
      {
        schema: routeSchema({
          summary: "The fleet's payment QR template for the job form, and whether this is production",
          tag: 'jobs',
          auth: 'session',
          response: { 200: PaymentSettingsSchema },
        }),
      },
      async () => {
        return { template: ctx.opts.paymentTemplate ?? null, production: ctx.opts.production };
      },
    );

    session.get<{ Querystring: { device?: string; agent?: string; state?: string; limit?: string } }>(
      '/api/jobs',
      {
        schema: routeSchema({
          summary: 'Jobs, newest first (an agent sees its own)',
          tag: 'jobs',
          auth: 'session',
          query: { device: q('device id'), agent: q('agent id (admins)'), state: q('a job state'), limit: q('1-1000') },
          response: { 200: arrayOf(JobListItemSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        const device = req.query.device === undefined ? undefined : normaliseId(req.query.device, 'device id', 'device');
        const asked = req.query.agent === undefined ? undefined : normaliseId(req.query.agent, 'agent id', 'agent');
        // An agent lists its own jobs only, whatever it asks for.
        const agent = p.kind === 'agent' ? p.id : (asked ?? null);
        const state = stateOf(req.query.state);
        const limit = limitOf(req.query.limit);
        return ctx.jobs.requests.list(agent, { ...(device ? { device } : {}), ...(state ? { state } : {}), ...(limit ? { limit } : {}) });
      },
    );

    session.get<{ Params: { id: string } }>(
      '/api/jobs/:id',
      { schema: routeSchema({ summary: 'One job with its state timeline', tag: 'jobs', auth: 'session', params: ['id'], response: { 200: JobViewSchema } }) },
      async (req) => {
        const p = req.principal;
        const id = jobParam(req.params.id);
        // A pool job no device has taken yet lives in its pool queue, not among the jobs.
        const waiting = await ctx.pools.view(p, id);
        if (waiting !== undefined) return waiting;
        return ctx.jobs.requests.view(await ctx.jobs.requests.visible(p, id));
      },
    );

    session.get<{ Params: { id: string }; Querystring: { format?: string } }>(
      '/api/jobs/:id/export',
      {
        schema: routeSchema({
          summary: "The job's history and streamed data as a download",
          tag: 'jobs',
          auth: 'session',
          params: ['id'],
          query: { format: q('csv or json') },
          response: { 200: { description: 'CSV or JSON file', type: 'string' } },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const format = exportFormat(req.query.format);
        const row = await ctx.jobs.requests.visible(p, jobParam(req.params.id));
        const out = await exportJob(ctx.jobs.engine.db, row, format);
        return reply.header('content-type', out.contentType).header('content-disposition', `attachment; filename="${out.filename}"`).send(out.body);
      },
    );

    session.post<{ Params: { id: string } }>(
      '/api/jobs/:id/cancel',
      {
        schema: routeSchema({
          summary:
            'Cancel a job: a queued one leaves the queue, one on the device is told to stop (pending cancel until it acknowledges). Its agent or an admin (audited as job.cancel)',
          tag: 'jobs',
          auth: 'session',
          params: ['id'],
          response: { 200: JobViewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const id = jobParam(req.params.id);
        if (await ctx.pools.cancelWaiting(p, id)) return (await ctx.pools.view(p, id))!;
        await ctx.jobs.requests.cancel(p, id);
        return ctx.jobs.requests.view(await ctx.jobs.requests.visible(p, id));
      },
    );

    session.post<{ Params: { id: string } }>(
      '/api/jobs/:id/complete',
      {
        schema: routeSchema({
          summary: 'Confirm a held payment QR: the device shows Paid and the job is done',
          tag: 'jobs',
          auth: 'session',
          params: ['id'],
          response: { 200: JobViewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        return ctx.jobs.requests.complete(p, jobParam(req.params.id));
      },
    );
  });
}
