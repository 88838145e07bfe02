// Health and Prometheus metrics for operators.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Context } from '../context';

export function opsRoutes(app: FastifyInstance, ctx: Context, startedAt: number): void {
  app.get('/healthz', async (_req, reply) => {
    let db = 'ok';
    try {
      await sql`select 1`.execute(ctx.db);
    } catch (err) {
      db = `error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const ok = db === 'ok' && !ctx.closing;
    return reply.status(ok ? 200 : 503).send({ ok, db, uptimeMs: ctx.now() - startedAt, connections: ctx.metrics.connections });
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
