// Firmware releases and rollouts over REST, admins only (docs/architecture.md, Over-the-air
// updates). A release is uploaded as multipart/form-data: `manifest` (the signed text), `sig`
// (base64) and the `image` file, read with this route's own size limits.
import type { FastifyInstance } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { MAX_IMAGE_BYTES, MAX_MANIFEST_CHARS, parseRolloutRequest } from '../../protocol/ota';
import { DeviceOtaSchema, ReleaseViewSchema, RolloutControlBodySchema, RolloutCreateBodySchema, RolloutViewSchema } from '../../protocol/rest-schemas';
import { normaliseId } from '../../protocol/ids';
import { optStr } from '../../protocol/validate';
import { deviceOta } from '../ota/device-ota';
import { createRelease, listReleases } from '../ota/releases';
import { controlRollout, createRollout, listRollouts, rolloutView } from '../ota/rollouts';
import { actorOf } from './auth';
import { bodyOf } from './body';
import { arrayOf, routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

const ROLLOUT_ID = /^r[0-9a-f]{10}$/;

function rolloutId(raw: string): string {
  if (!ROLLOUT_ID.test(raw)) throw new ProtocolError(ErrorCode.BAD_ID, 'a rollout id is r and 10 hex digits', 'id');
  return raw;
}

export async function otaRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.post(
      '/api/releases',
      {
        schema: {
          ...routeSchema({
            summary: 'Upload a signed firmware release (multipart/form-data: manifest, sig, image)',
            tag: 'ota',
            auth: 'admin',
            response: { 201: ReleaseViewSchema },
          }),
          consumes: ['multipart/form-data'],
        },
      },
      async (req, reply) => {
        const p = req.principal;
        if (!req.isMultipart()) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'a release is uploaded as multipart/form-data with manifest, sig and image');
        const fields: Record<string, string> = {};
        let image: Buffer | null = null;
        for await (const part of req.parts({ limits: { fileSize: MAX_IMAGE_BYTES, files: 1, fields: 4, fieldSize: MAX_MANIFEST_CHARS * 2, parts: 5 } })) {
          if (part.type === 'file') {
            if (part.fieldname !== 'image')
              throw new ProtocolError(ErrorCode.BAD_REQUEST, `unexpected file field ${part.fieldname.slice(0, 32)}`, part.fieldname);
            image = await part.toBuffer();
          } else if (typeof part.value === 'string') {
            fields[part.fieldname] = part.value;
          }
        }
        if (fields.manifest === undefined) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'manifest is required (the signed text)', 'manifest');
        if (fields.sig === undefined) throw new ProtocolError(ErrorCode.BAD_SIGNATURE, 'sig is required: unsigned releases are refused', 'sig');
        if (image === null) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'image is required (the app image file)', 'image');
        return reply.status(201).send(await createRelease(ctx, ctx.ota.keys, actorOf(p), { manifest: fields.manifest, sig: fields.sig.trim(), image }));
      },
    );

    admin.get(
      '/api/releases',
      {
        schema: routeSchema({
          summary: 'Firmware releases, newest first, with how many devices run each',
          tag: 'ota',
          auth: 'admin',
          response: { 200: arrayOf(ReleaseViewSchema) },
        }),
      },
      async () => {
        return listReleases(ctx);
      },
    );

    admin.post(
      '/api/rollouts',
      {
        schema: routeSchema({
          summary: 'Start a staged rollout of a release',
          tag: 'ota',
          auth: 'admin',
          body: RolloutCreateBodySchema,
          response: { 201: RolloutViewSchema },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        return reply.status(201).send(await createRollout(ctx, actorOf(p), parseRolloutRequest(bodyOf(req.body))));
      },
    );

    admin.get(
      '/api/rollouts',
      {
        schema: routeSchema({
          summary: 'Rollouts, newest first, with counts by state per wave',
          tag: 'ota',
          auth: 'admin',
          response: { 200: arrayOf(RolloutViewSchema) },
        }),
      },
      async () => {
        return listRollouts(ctx);
      },
    );

    admin.get<{ Params: { id: string } }>(
      '/api/rollouts/:id',
      {
        schema: routeSchema({
          summary: 'One rollout with counts by state per wave',
          tag: 'ota',
          auth: 'admin',
          params: ['id'],
          response: { 200: RolloutViewSchema },
        }),
      },
      async (req) => {
        const view = await rolloutView(ctx, rolloutId(req.params.id));
        if (view === null) throw new ProtocolError(ErrorCode.NOT_FOUND, `no rollout ${req.params.id}`, 'id');
        return view;
      },
    );

    admin.get<{ Params: { id: string } }>(
      '/api/devices/:id/ota',
      {
        schema: routeSchema({
          summary: "A device's firmware: the version it runs, the release on its way and how its last update ended",
          tag: 'ota',
          auth: 'admin',
          params: ['id'],
          response: { 200: DeviceOtaSchema },
        }),
      },
      async (req) => {
        const id = normaliseId(req.params.id, 'device id', 'id');
        const view = await deviceOta(ctx, id);
        if (view === null) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${id}`, 'id');
        return view;
      },
    );

    for (const action of ['pause', 'resume', 'cancel'] as const) {
      const summary = {
        pause: 'Pause a rollout: nothing more is sent until it is resumed',
        resume: 'Resume a paused rollout',
        cancel: 'Cancel a rollout: nothing more is sent; devices already updated keep the release',
      }[action];
      admin.post<{ Params: { id: string } }>(
        `/api/rollouts/:id/${action}`,
        { schema: routeSchema({ summary, tag: 'ota', auth: 'admin', params: ['id'], body: RolloutControlBodySchema, response: { 200: RolloutViewSchema } }) },
        async (req) => {
          const p = req.principal;
          const reason = (req.body ? optStr(bodyOf(req.body), 'reason', { max: 500 }) : undefined) ?? null;
          return controlRollout(ctx, rolloutId(req.params.id), action, actorOf(p), reason);
        },
      );
    }
  });
}
