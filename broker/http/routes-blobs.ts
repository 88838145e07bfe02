// GET /api/blobs/<sha>?exp&sig[&type]: a blob by signed, expiring URL, with one HTTP Range
// (docs/architecture.md, "Blobs"). No session: the signature is the permission, so devices and
// browsers fetch with the URL alone. The name must be a sha256; anything else (a path, a dot
// segment, an encoded slash) is refused before the store is touched.
import type { FastifyInstance } from 'fastify';
import { parseRange } from '../blobs/range';
import { BLOB_TYPES, type SignedBlobQuery } from '../blobs/signed-url';
import { q, routeSchema } from './route-schema';
import type { RoutesOptions } from './scopes';

const bytes = { description: 'the blob (or the asked range of it)', type: 'string', format: 'binary' };

export async function blobRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  app.get<{ Params: { sha: string }; Querystring: SignedBlobQuery }>(
    '/api/blobs/:sha',
    {
      schema: routeSchema({
        summary: 'A blob by signed URL, with HTTP Range',
        tag: 'blobs',
        auth: 'none',
        params: ['sha'],
        query: {
          exp: q('expiry, seconds since the epoch'),
          sig: q('signature over sha, exp and type'),
          type: q(`served as: ${Object.keys(BLOB_TYPES).join(', ')} (default bin)`),
        },
        response: { 200: bytes, 206: bytes },
      }),
    },
    async (req, reply) => {
      const type = ctx.blobUrls.verify(req.params.sha, req.query);
      const info = await ctx.blobs.stat(req.params.sha);
      if (!info) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no blob ${req.params.sha}` } });
      const exp = Number(req.query.exp) * 1000;
      // An If-Range naming another entity asks for the whole thing; a blob never changes, so only its own tag matches.
      const ifRange = req.headers['if-range'];
      const answer = ifRange !== undefined && ifRange !== `"${info.sha256}"` ? ({ kind: 'all' } as const) : parseRange(req.headers.range, info.size);
      if (answer.kind === 'unsatisfiable') {
        return reply
          .status(416)
          .header('content-range', `bytes */${info.size}`)
          .send({ error: { code: 'BAD_REQUEST', message: `range outside the blob's ${info.size} bytes`, field: 'range' } });
      }
      void reply
        .header('content-type', BLOB_TYPES[type])
        .header('accept-ranges', 'bytes')
        .header('etag', `"${info.sha256}"`)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', `private, max-age=${Math.max(0, Math.floor((exp - ctx.now()) / 1000))}, immutable`);
      if (answer.kind === 'part') {
        const { start, end } = answer.range;
        void reply
          .status(206)
          .header('content-range', `bytes ${start}-${end}/${info.size}`)
          .header('content-length', end - start + 1);
        return reply.send(await ctx.blobs.read(info.sha256, answer.range));
      }
      void reply.header('content-length', info.size);
      return reply.send(await ctx.blobs.read(info.sha256));
    },
  );
}
