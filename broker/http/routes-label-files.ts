// One device's claim label as a file to print: the same PNG, PDF and SVG renderers as
// `npm run labels`, signed with the broker's label key, so the admin console needs no CLI.
import type { FastifyInstance } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import { labelContent } from '../../host-tools/labels/label-content';
import { renderLabelPng } from '../../host-tools/labels/label-png';
import { renderLabelSvg } from '../../host-tools/labels/label-svg';
import { renderSheetPdf } from '../../host-tools/labels/sheet-pdf';
import { labelUrl } from '../labels';
import { getDevice } from '../store/devices';
import { q, routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

export const LABEL_FORMATS = ['png', 'pdf', 'svg'] as const;
type LabelFormat = (typeof LABEL_FORMATS)[number];
const CONTENT_TYPES: Record<LabelFormat, string> = { png: 'image/png', pdf: 'application/pdf', svg: 'image/svg+xml' };

function formatOf(v: string | undefined): LabelFormat {
  const f = (v ?? 'png').trim().toLowerCase();
  if (!(LABEL_FORMATS as readonly string[]).includes(f))
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `format must be one of: ${LABEL_FORMATS.join(', ')}`, 'format');
  return f as LabelFormat;
}

export async function labelFileRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.get<{ Params: { id: string }; Querystring: { format?: string } }>(
      '/api/devices/:id/label',
      {
        schema: routeSchema({
          summary: "The device's signed claim label as a file to print (one label; PDF on an A4 sheet)",
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          query: { format: q('png (default), pdf or svg') },
          response: { 200: { description: 'PNG, PDF or SVG file', type: 'string' } },
        }),
      },
      async (req, reply) => {
        const format = formatOf(req.query.format);
        const id = normaliseId(req.params.id, 'device id', 'id');
        const device = await getDevice(ctx.db, id);
        if (!device) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${id}`, 'id');
        const code = device.machine_code;
        if (code === null) throw new ProtocolError(ErrorCode.CONFLICT, `device ${id} has no machine code, so it has no label; provision it with one`, 'id');
        const label = labelContent({ code, url: labelUrl(ctx.opts.publicUrl, ctx.labelKey, code), fleet: ctx.opts.fleetName });
        const body =
          format === 'png'
            ? renderLabelPng(label)
            : format === 'svg'
              ? renderLabelSvg(label)
              : await renderSheetPdf([label], `${ctx.opts.fleetName} label ${code}`);
        return reply
          .header('content-type', CONTENT_TYPES[format])
          .header('content-disposition', `attachment; filename="${code}.${format}"`)
          .header('cache-control', 'no-store')
          .send(body);
      },
    );
  });
}
