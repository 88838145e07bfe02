// The HTTP(S) server: REST API, health, metrics. MQTT over WebSocket shares its port (/mqtt).
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { ErrorCode } from '../../protocol/errors';
import type { Context } from '../context';
import { parseJsonBody } from './body';
import { installScopes } from './scopes';
import { errorHandler } from './errors';
import { openApiRoutes, registerOpenApi } from './openapi';
import { agentRoutes } from './routes-agents';
import { blobRoutes } from './routes-blobs';
import { machineOrderRoutes } from './routes-machine-orders';
import { orderRoutes } from './routes-orders';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import { otaRoutes } from './routes-ota';
import { blockRoutes } from './routes-blocks';
import { claimPreviewRoutes } from './routes-claim-preview';
import { deviceRoutes } from './routes-devices';
import { fleetRoutes } from './routes-fleet';
import { jobRoutes } from './routes-jobs';
import { machineRoutes } from './routes-machines';
import { opsRoutes } from './routes-ops';
import { backupRoutes } from './routes-backup';
import { sessionRoutes } from './routes-session';
import { labelFileRoutes } from './routes-label-files';
import { transferRequestRoutes } from './routes-transfer-requests';
import { locationRoutes } from './routes-locations';
import { webRoutes } from './routes-web';
import { webhookRoutes } from './routes-webhooks';

const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

export async function buildHttp(ctx: Context, startedAt: number): Promise<FastifyInstance> {
  const tls = ctx.opts.tlsCert && ctx.opts.tlsKey ? { https: { cert: readFileSync(ctx.opts.tlsCert), key: readFileSync(ctx.opts.tlsKey) } } : {};
  const app = Fastify({
    loggerInstance: ctx.log.child({ part: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: ctx.opts.trustProxy,
    // Types are checked as sent: "true" is not a boolean. Query strings are declared as strings.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allowUnionTypes: true } },
    ...tls,
  }) as unknown as FastifyInstance;
  // Response schemas document the API; JSON.stringify keeps every field a handler returns.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler(ctx.log));
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // A path with '.' or '..' segments names nothing here; say so, rather than let the static file
  // server answer a bare "Forbidden".
  app.addHook('onRequest', async (req, reply) => {
    const path = req.raw.url?.split('?')[0] ?? '';
    if (DOT_SEGMENT.test(path)) {
      await reply.status(400).send({ error: { code: ErrorCode.BAD_REQUEST, message: "path must not contain '.' or '..' segments" } });
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    ctx.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  // Registered before the routes, so their onRoute hooks see every one of them.
  installScopes(app);
  await registerOpenApi(app, ctx);
  // Walk-up order uploads and their limits (routes-orders.ts); limits count cluster-wide on Redis.
  await app.register(multipart);
  await app.register(rateLimit, { global: false, nameSpace: 'order-rate:', ...(ctx.backends.commandRedis() ? { redis: ctx.backends.commandRedis() } : {}) });
  // Each routes file is a plugin; the order is the OpenAPI document's. Who may call each route is
  // its scope's hook (scopes.ts).
  await app.register(sessionRoutes, { ctx });
  await app.register(agentRoutes, { ctx });
  await app.register(blockRoutes, { ctx });
  await app.register(deviceRoutes, { ctx });
  await app.register(fleetRoutes, { ctx });
  await app.register(jobRoutes, { ctx });
  await app.register(machineRoutes, { ctx });
  await app.register(opsRoutes, { ctx, startedAt });
  await app.register(backupRoutes, { ctx });
  await app.register(claimPreviewRoutes, { ctx });
  await app.register(webhookRoutes, { ctx });
  await app.register(transferRequestRoutes, { ctx });
  await app.register(blobRoutes, { ctx });
  await app.register(otaRoutes, { ctx });
  await app.register(labelFileRoutes, { ctx });
  await app.register(orderRoutes, { ctx });
  await app.register(machineOrderRoutes, { ctx });
  await app.register(locationRoutes, { ctx });
  await app.register(openApiRoutes, { ctx });
  await app.register(webRoutes, { ctx });
  return app;
}
