// A print cmd carries a fresh signed URL of its design each time it is sent, so a job that waited
// in the queue longer than a URL lives still reaches the device with one that works
// (docs/architecture.md, "Walk-up orders").
import type { Context } from '../context';

export function withFetchUrl(ctx: Context, params: Record<string, unknown>): Record<string, unknown> {
  const design = params.design;
  if (typeof design !== 'string') return params;
  return { ...params, url: ctx.blobBaseUrl + ctx.blobUrls.path(design, ctx.opts.orders.fetchUrlTtlMs) };
}
