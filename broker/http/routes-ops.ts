// Health, Prometheus metrics and the node's binding map for operators.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { BindingMapSchema } from '../../protocol/rest-schemas';
import { routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

export async function opsRoutes(app: FastifyInstance, { ctx, startedAt }: RoutesOptions & { startedAt: number }): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: routeSchema({
        summary: 'Health of this node and its backends',
        tag: 'ops',
        auth: 'none',
        response: {
          200: {
            type: 'object',
            required: ['ok', 'mode', 'uptimeMs', 'connections'],
            properties: {
              ok: { type: 'boolean' },
              mode: { type: 'string', enum: ['single', 'postgres', 'cluster'] },
              node: { type: 'string' },
              db: { type: 'string' },
              checks: { type: 'object', additionalProperties: true },
              uptimeMs: { type: 'integer' },
              connections: { type: 'object', additionalProperties: { type: 'integer' } },
            },
          },
        },
      }),
    },
    async (_req, reply) => {
      const uptimeMs = ctx.now() - startedAt;
      const { backends } = ctx;
      if (backends.mode !== 'sqlite') {
        // PostgreSQL and Redis are probed every second; answering from those probes keeps this
        // quick while one of them hangs.
        const checks = backends.health.report();
        const ok = backends.health.isOk() && !ctx.closing;
        return reply
          .status(ok ? 200 : 503)
          .send({ ok, mode: backends.mode, node: backends.nodeId, db: checks.postgres, checks, uptimeMs, connections: ctx.metrics.connections });
      }
      let db = 'ok';
      try {
        await sql`select 1`.execute(ctx.db);
      } catch (err) {
        db = `error: ${err instanceof Error ? err.message : String(err)}`;
      }
      const ok = db === 'ok' && !ctx.closing;
      return reply.status(ok ? 200 : 503).send({ ok, mode: 'single', db, uptimeMs, connections: ctx.metrics.connections });
    },
  );

  app.get(
    '/metrics',
    {
      schema: routeSchema({
        summary: 'Prometheus metrics (text exposition format)',
        tag: 'ops',
        auth: 'none',
        response: { 200: { description: 'Prometheus text', type: 'string' } },
      }),
    },
    async (_req, reply) => {
      reply.header('content-type', ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );

  await inScope(app, ctx, 'admin', (admin) => {
    // Each node of a cluster keeps its own copy (docs/architecture.md, Backends); comparing them
    // with the database is how an operator, or the cluster model test, sees one that went astray.
    admin.get(
      '/api/binding-map',
      {
        schema: routeSchema({
          summary: "This node's in-memory binding map, as its per-message ACL reads it",
          tag: 'ops',
          auth: 'admin',
          response: { 200: BindingMapSchema },
        }),
      },
      async () => {
        const suspended = ctx.backends.bindingsSuspended;
        const entries = [...ctx.bindings.entries()].map(([device, b]) => ({ device, agent: suspended ? null : b.agent, version: b.version }));
        return { node: ctx.backends.nodeId, suspended, entries };
      },
    );
  });
}
