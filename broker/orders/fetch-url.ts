// A print cmd carries a fresh signed URL of its design each time it is sent, so a job that waited
// in the queue longer than a URL lives still reaches the device with one that works
// (docs/architecture.md, "Walk-up orders").
import type { Context } from '../context';

/** What this module reads of the node's context. */
type FetchUrlContext = Pick<Context, 'blobBaseUrl' | 'blobUrls' | 'opts'>;

export function withFetchUrl(ctx: FetchUrlContext, params: Record<string, unknown>): Record<string, unknown> {
  const design = params.design;
  if (typeof design !== 'string') return params;
  return { ...params, url: ctx.blobBaseUrl + ctx.blobUrls.path(design, ctx.opts.orders.fetchUrlTtlMs) };
}
