// Serves the agent and admin web app (web/dist, built by `npm run build:web`). App paths such as
// /c/<code>.<sig> (the URL printed in machine labels) get index.html, so a phone's own camera app
// lands on the claim screen.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RoutesOptions } from './scopes';

export const WEB_ROOT = join(import.meta.dirname, '..', '..', 'web', 'dist');

/** Client-side routes of the app; each answers with the app shell. */
const APP_PATHS = [
  '/login',
  '/scan',
  '/c/*',
  '/o/*',
  '/p/*',
  '/claim/*',
  '/devices',
  '/devices/*',
  '/history',
  '/orders',
  '/pools',
  '/pools/*',
  '/pool-jobs/*',
  '/admin',
  '/admin/*',
];

/** The web app's pages are not part of the REST API description. */
const APP_SHELL = { schema: { hide: true } };

export async function webRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) {
    ctx.log.warn({ root: WEB_ROOT }, 'the web app is not built; run npm run build:web');
    const notBuilt = (_req: unknown, reply: FastifyReply) =>
      reply.status(503).type('text/plain; charset=utf-8').send('The fleetbind web app is not built on this server. Run `npm run build:web` and restart.\n');
    for (const path of ['/', ...APP_PATHS]) app.get(path, APP_SHELL, notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/',
    index: ['index.html'],
    setHeaders(reply, path) {
      // Built assets carry a content hash in their names; the shell and manifest must be revalidated.
      const hashed = path.includes(`${join(WEB_ROOT, 'assets')}`);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const shell = (_req: unknown, reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html');
  for (const path of APP_PATHS) app.get(path, APP_SHELL, shell);
}
