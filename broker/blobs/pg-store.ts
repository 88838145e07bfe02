// Blobs in PostgreSQL, so every cluster node serves every blob (docs/architecture.md, "Blobs").
// A put writes its bytes as bytea chunks under a random content id while it hashes them, then
// names them in one insert into `blobs`: until that row commits no reader can find the chunks,
// so a crash part-way leaves only orphan chunks, which sweep() removes once they are old.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema';
import { type BlobInfo, type BlobStore, type ByteRange, type PutOptions, checkSha, chunksOf, notFound, tooLarge } from './store';

/** Bytes per row: big enough that a 10 MiB design is 40 rows, small enough to stream. */
export const CHUNK_BYTES = 256 * 1024;
/** Chunks fetched per query while reading. */
const READ_BATCH = 4;
/** Orphan chunks younger than this may belong to a put still running on some node. */
const ORPHAN_AGE_MS = 60 * 60_000;

export class PgBlobStore implements BlobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async put(input: Buffer | AsyncIterable<Buffer | Uint8Array>, opts: PutOptions): Promise<BlobInfo> {
    const content = randomBytes(12).toString('hex');
    const hash = createHash('sha256');
    let size = 0;
    let idx = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (all: boolean): Promise<void> => {
      let buf = Buffer.concat(pending, pendingBytes);
      while (buf.length >= CHUNK_BYTES || (all && buf.length > 0)) {
        const data = buf.subarray(0, CHUNK_BYTES);
        await this.db.insertInto('blob_chunks').values({ content, idx: idx++, data, created_at: this.now() }).execute();
        buf = buf.subarray(data.length);
      }
      pending = buf.length > 0 ? [buf] : [];
      pendingBytes = buf.length;
    };
    try {
      for await (const chunk of chunksOf(input)) {
        size += chunk.length;
        if (size > opts.maxBytes) throw tooLarge(opts.maxBytes);
        hash.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= CHUNK_BYTES) await flush(false);
      }
      await flush(true);
    } catch (err) {
      await this.dropContent(content);
      throw err;
    }
    const sha256 = hash.digest('hex');
    const named = await this.db
      .insertInto('blobs')
      .values({ sha256, size, content, created_at: this.now() })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .returning('sha256')
      .executeTakeFirst();
    // The same bytes were already stored: keep that copy, drop this one.
    if (!named) await this.dropContent(content);
    return { sha256, size };
  }

  async stat(sha256: string): Promise<BlobInfo | null> {
    checkSha(sha256);
    const row = await this.db.selectFrom('blobs').select(['sha256', 'size']).where('sha256', '=', sha256).executeTakeFirst();
    return row ? { sha256: row.sha256, size: Number(row.size) } : null;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== null;
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    checkSha(sha256);
    const row = await this.db.selectFrom('blobs').select(['content', 'size']).where('sha256', '=', sha256).executeTakeFirst();
    if (!row) throw notFound(sha256);
    const size = Number(row.size);
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const db = this.db;
    async function* bytes(): AsyncGenerator<Buffer> {
      if (end < start) return;
      const last = Math.floor(end / CHUNK_BYTES);
      for (let from = Math.floor(start / CHUNK_BYTES); from <= last; from += READ_BATCH) {
        const rows = await db
          .selectFrom('blob_chunks')
          .select(['idx', 'data'])
          .where('content', '=', row!.content)
          .where('idx', '>=', from)
          .where('idx', '<=', Math.min(last, from + READ_BATCH - 1))
          .orderBy('idx')
          .execute();
        for (const r of rows) {
          const at = r.idx * CHUNK_BYTES;
          const data = Buffer.from(r.data);
          yield data.subarray(Math.max(0, start - at), Math.min(data.length, end - at + 1));
        }
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  async sweep(): Promise<void> {
    const before = this.now() - ORPHAN_AGE_MS;
    await this.db
      .deleteFrom('blob_chunks')
      .where('created_at', '<', before)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('blobs').select('blobs.sha256').whereRef('blobs.content', '=', 'blob_chunks.content'))))
      .execute();
  }

  private async dropContent(content: string): Promise<void> {
    await this.db.deleteFrom('blob_chunks').where('content', '=', content).execute();
  }
}
