// Blobs as files under <dataDir>/blobs, for a single node on SQLite (docs/architecture.md,
// "Blobs"). A put streams into blobs/tmp, fsyncs the file, renames it to blobs/<aa>/<sha> and
// fsyncs the directory: a crash at any point leaves either no blob or the whole blob, and
// whatever is left in tmp is swept at start.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type BlobInfo, type BlobStore, type ByteRange, type PutOptions, checkSha, chunksOf, notFound, tooLarge } from './store';

export class FileBlobStore implements BlobStore {
  private readonly tmp: string;

  constructor(private readonly dir: string) {
    this.tmp = join(dir, 'tmp');
  }

  private pathOf(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  async put(input: Buffer | AsyncIterable<Buffer | Uint8Array>, opts: PutOptions): Promise<BlobInfo> {
    await mkdir(this.tmp, { recursive: true });
    const temp = join(this.tmp, randomBytes(12).toString('hex'));
    const file = await open(temp, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    let kept = false;
    try {
      for await (const chunk of chunksOf(input)) {
        size += chunk.length;
        if (size > opts.maxBytes) throw tooLarge(opts.maxBytes);
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
      await file.close();
      const sha256 = hash.digest('hex');
      const final = this.pathOf(sha256);
      const dir = join(this.dir, sha256.slice(0, 2));
      await mkdir(dir, { recursive: true });
      // Same bytes, same name: replacing an existing blob changes nothing a reader could see.
      await rename(temp, final);
      kept = true;
      await syncDir(dir);
      return { sha256, size };
    } finally {
      if (!kept) {
        await file.close().catch(() => undefined);
        await rm(temp, { force: true });
      }
    }
  }

  async stat(sha256: string): Promise<BlobInfo | null> {
    checkSha(sha256);
    try {
      const s = await stat(this.pathOf(sha256));
      return { sha256, size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== null;
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    if (!(await this.has(sha256))) throw notFound(sha256);
    return createReadStream(this.pathOf(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async sweep(): Promise<void> {
    const left = await readdir(this.tmp).catch(() => [] as string[]);
    await Promise.all(left.map((f) => rm(join(this.tmp, f), { force: true })));
  }
}

/** A rename is durable once its directory is synced. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
