// The content-addressed blob store, both backings (files under the data dir, PostgreSQL bytea
// chunks), and the signed blob URL with Range: bytes in equal bytes out, a blob appears only
// when complete, oversize input keeps nothing, and a URL with a path, a forged or altered
// signature or an expired time is refused with its own error before anything is read.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as assert from 'uvu/assert';
import { FileBlobStore } from '../../broker/blobs/file-store';
import { CHUNK_BYTES, PgBlobStore } from '../../broker/blobs/pg-store';
import type { BlobStore } from '../../broker/blobs/store';
import { openPostgres } from '../../broker/store/postgres';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { TestBroker } from '../helpers/broker';
import { suite } from '../helpers/suite';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A GET of the path exactly as written (fetch would resolve its dot segments first). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: u.hostname, port: u.port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

async function* trickle(b: Buffer, step: number): AsyncIterable<Buffer> {
  for (let i = 0; i < b.length; i += step) yield b.subarray(i, i + step);
}

/** What every backing must do, whatever it stores in. */
async function conformance(store: BlobStore): Promise<void> {
  const data = randomBytes(CHUNK_BYTES * 2 + 12_345);
  const put = await store.put(trickle(data, 70_001), { maxBytes: data.length });
  assert.equal(put, { sha256: sha(data), size: data.length });
  assert.equal(await store.stat(put.sha256), put);
  assert.ok(await store.has(put.sha256));
  assert.ok((await drain(await store.read(put.sha256))).equals(data), 'whole blob reads back');
  for (const [start, end] of [
    [0, 0],
    [10, CHUNK_BYTES + 10],
    [CHUNK_BYTES - 1, CHUNK_BYTES],
    [CHUNK_BYTES * 2, data.length - 1],
    [5, 5],
  ] as const) {
    assert.ok((await drain(await store.read(put.sha256, { start, end }))).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
  }
  // Same bytes as a buffer: the same name, stored once.
  assert.equal(await store.put(data, { maxBytes: data.length }), put);

  const big = randomBytes(5000);
  const refused = await store.put(trickle(big, 1000), { maxBytes: 4999 }).then(
    () => null,
    (e: unknown) => e as { code?: string },
  );
  assert.is(refused?.code, 'TOO_LARGE');
  assert.is(await store.has(sha(big)), false, 'an oversize put keeps nothing');

  const empty = await store.put(Buffer.alloc(0), { maxBytes: 10 });
  assert.is(empty.size, 0);
  assert.is((await drain(await store.read(empty.sha256))).length, 0);

  assert.is(await store.stat(sha(randomBytes(8))), null);
  const missing = await store.read(sha(randomBytes(8))).then(
    () => null,
    (e: unknown) => e as { code?: string },
  );
  assert.is(missing?.code, 'NOT_FOUND');
  for (const bad of ['../../etc/passwd', 'ABC', put.sha256.toUpperCase(), `${put.sha256}/x`]) {
    const e = await store.stat(bad).then(
      () => null,
      (err: unknown) => err as { code?: string },
    );
    assert.is(e?.code, 'BAD_ID', bad);
  }
}

const t = suite<{ backends?: Backends | Error; dirs: string[] }>('blob store', { dirs: [] });

t.before(async (c) => {
  c.backends = await freshBackends();
});
t.after(async (c) => {
  for (const d of c.dirs) rmSync(d, { recursive: true, force: true });
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

t('files: conformance, and a put interrupted before its rename is never served and is swept', async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-blobs-'));
  c.dirs.push(dir);
  const store = new FileBlobStore(dir);
  await conformance(store);
  assert.equal(readdirSync(join(dir, 'tmp')), [], 'no temp file left after puts, refused ones included');
  // What a SIGKILL between write and rename leaves: the bytes in tmp under a random name.
  const half = randomBytes(1000);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'tmp', 'interrupted'), half);
  assert.is(await store.has(sha(half)), false);
  await store.sweep();
  assert.equal(readdirSync(join(dir, 'tmp')), []);
});

t('PostgreSQL: conformance, and chunks without their blobs row are never served and are swept when old', async (c) => {
  requireBackends(c.backends);
  const reg = await openPostgres(c.backends.databaseUrl);
  try {
    let now = Date.now();
    const store = new PgBlobStore(reg.db, () => now);
    await conformance(store);
    const data = randomBytes(3000);
    // What a crash before the naming insert leaves: chunks under a content id no blob names.
    await reg.db.insertInto('blob_chunks').values({ content: 'crashed', idx: 0, data, created_at: now }).execute();
    assert.is(await store.has(sha(data)), false);
    await store.sweep();
    assert.is(
      (await reg.db.selectFrom('blob_chunks').select('idx').where('content', '=', 'crashed').execute()).length,
      1,
      'a young orphan may be a put still running elsewhere',
    );
    now += 2 * 60 * 60_000;
    await store.sweep();
    assert.is((await reg.db.selectFrom('blob_chunks').select('idx').where('content', '=', 'crashed').execute()).length, 0);
    const kept = await reg.db.selectFrom('blobs').select('sha256').execute();
    assert.ok(kept.length >= 2, 'complete blobs survive the sweep');
    for (const k of kept) assert.ok(await store.has(k.sha256));
  } finally {
    await reg.close();
  }
});

t('signed URL: whole and ranged fetches; paths, forged, altered and expired signatures refused', async () => {
  const tb = await TestBroker.start();
  try {
    const data = randomBytes(100_000);
    const { sha256 } = await tb.ctx.blobs.put(data, { maxBytes: 1 << 20 });
    const base = tb.broker.httpUrl;
    const path = tb.ctx.blobUrls.path(sha256, 60_000);
    const whole = await fetch(base + path);
    assert.is(whole.status, 200);
    assert.is(whole.headers.get('accept-ranges'), 'bytes');
    assert.is(whole.headers.get('content-type'), 'application/octet-stream');
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));

    const part = await fetch(base + path, { headers: { range: 'bytes=1000-1999' } });
    assert.is(part.status, 206);
    assert.is(part.headers.get('content-range'), `bytes 1000-1999/${data.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000)));
    const open = await fetch(base + path, { headers: { range: 'bytes=99000-' } });
    assert.ok(Buffer.from(await open.arrayBuffer()).equals(data.subarray(99_000)));
    const tail = await fetch(base + path, { headers: { range: 'bytes=-10' } });
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 10)));
    const beyond = await fetch(base + path, { headers: { range: 'bytes=100000-' } });
    assert.is(beyond.status, 416);
    assert.is(beyond.headers.get('content-range'), `bytes */${data.length}`);

    const png = tb.ctx.blobUrls.path(sha256, 60_000, 'png');
    assert.is((await fetch(base + png)).headers.get('content-type'), 'image/png');

    const refusals: [string, number, string][] = [
      [path.replace(/sig=[0-9a-f]+/, (s) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0')), 403, 'BAD_SIGNATURE'],
      [path.replace(/exp=(\d+)/, (_s, e: string) => `exp=${Number(e) + 3600}`), 403, 'BAD_SIGNATURE'],
      [png.replace('type=png', 'type=jpeg'), 403, 'BAD_SIGNATURE'],
      [path.replace(/&sig=[0-9a-f]+/, ''), 403, 'BAD_SIGNATURE'],
      [tb.ctx.blobUrls.path(sha256, -5_000), 410, 'LINK_EXPIRED'],
      [path.replace(sha256, '..%2F..%2Fetc%2Fpasswd'), 400, 'BAD_ID'],
      [path.replace(sha256, '../../fleetbind.db'), 400, 'BAD_REQUEST'],
      [path.replace(sha256, `${sha256.slice(0, 2)}%2F${sha256}`), 400, 'BAD_ID'],
      [path.replace('?', '/x?'), 404, 'NOT_FOUND'],
      [`${path}&type=html`.replace(/&type=html$/, '').replace('?', '?type=html&'), 400, 'BAD_REQUEST'],
    ];
    for (const [p, status, code] of refusals) {
      const r = await rawGet(base, p);
      assert.is(r.status, status, p);
      assert.is((JSON.parse(r.body) as { error: { code: string } }).error.code, code, p);
    }
    // A blob that was never stored, validly signed: not found, and nothing else said.
    const ghost = await fetch(base + tb.ctx.blobUrls.path(sha(randomBytes(4)), 60_000));
    assert.is(ghost.status, 404);
  } finally {
    await tb.stop();
  }
});

t.run();
