// Picks the blob store for the registry the node runs on (docs/architecture.md, "Blobs") and
// clears what an interrupted upload left behind.
import { join } from 'node:path';
import type { Logger } from '../logger';
import type { Registry } from '../store/db';
import { FileBlobStore } from './file-store';
import { PgBlobStore } from './pg-store';
import type { BlobStore } from './store';

export async function openBlobStore(registry: Pick<Registry, 'db' | 'dialect'>, dataDir: string, log: Logger): Promise<BlobStore> {
  const store = registry.dialect === 'postgres' ? new PgBlobStore(registry.db) : new FileBlobStore(join(dataDir, 'blobs'));
  await store.sweep().catch((err: unknown) => log.warn({ err }, 'sweeping unfinished blob uploads failed'));
  return store;
}
