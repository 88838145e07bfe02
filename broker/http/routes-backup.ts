// An online backup of the registry for operators (docs/architecture.md, Backup and restore): the
// broker keeps serving while it is taken. `npm run fleet -- backup <file>` saves it.
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { REGISTRY_FILE, backupSqlite, pgDump } from '../store/backup';
import { routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

export async function backupRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.get(
      '/api/backup',
      {
        schema: routeSchema({
          summary: 'A consistent backup of the registry, taken while the broker runs (SQLite file, or pg_dump custom format)',
          tag: 'ops',
          auth: 'admin',
          response: { 200: { description: 'the backup file', type: 'string' } },
        }),
      },
      async (_req, reply) => {
        const stamp = new Date(ctx.now()).toISOString().replace(/[:.]/g, '-');
        const url = ctx.opts.databaseUrl;
        if (url !== undefined) {
          const dump = pgDump(url);
          // A failed dump ends the download short: the client sees an incomplete body, never a backup that looks whole.
          dump.done.catch((err: unknown) => {
            ctx.log.error({ err }, 'backup failed');
            dump.stream.destroy(err as Error);
          });
          ctx.log.info({ format: 'pg_dump' }, 'backup started');
          return reply
            .header('content-type', 'application/octet-stream')
            .header('content-disposition', `attachment; filename="fleetbind-${stamp}.pgdump"`)
            .send(dump.stream);
        }
        const dir = mkdtempSync(join(tmpdir(), 'fleetbind-backup-'));
        const file = join(dir, REGISTRY_FILE);
        const started = ctx.now();
        try {
          await backupSqlite(ctx.opts.dataDir, file);
        } catch (err) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
        ctx.log.info({ format: 'sqlite', ms: ctx.now() - started }, 'backup taken');
        const stream = createReadStream(file);
        stream.once('close', () => rmSync(dir, { recursive: true, force: true }));
        return reply
          .header('content-type', 'application/vnd.sqlite3')
          .header('content-disposition', `attachment; filename="fleetbind-${stamp}.db"`)
          .send(stream);
      },
    );
  });
}
