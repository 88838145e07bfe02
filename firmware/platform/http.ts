// Ranged HTTP GETs on the device (docs/architecture.md, "Walk-up orders"): Moddable's `http`
// Request with `Range: bytes=start-end`, the body handed on fragment by fragment so the core
// holds no more than the window it asked for.
import { Request } from 'http';
import type { Http, HttpGetHandlers } from '../core/platform';

/** Splits an http:// URL into what Moddable's Request takes. */
function target(url: string): { host: string; port: number; path: string } {
  const m = /^http:\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(url);
  if (m === null) throw new Error(`unsupported URL (http:// only): ${url.slice(0, 64)}`);
  return { host: m[1]!, port: m[2] === undefined ? 80 : Number(m[2]), path: m[3] ?? '/' };
}

/**
 * A GET whose body is handed on fragment by fragment; `range` is the Range header's value, or
 * null for the whole body. Designs (bounded windows) and firmware images (the rest from an offset)
 * both come through here.
 */
export function streamGet(url: string, range: string | null, handlers: HttpGetHandlers): { abort(): void } {
  const { host, port, path } = target(url);
  // No `response` option: with one, http.js gathers the whole body in memory and never calls back
  // with a fragment (seen on the lin build: an update image never arrived).
  const request = new Request({ host, port, path, headers: range === null ? [] : ['Range', range] });
  let ended = false;
  const end = (error?: string): void => {
    if (ended) return;
    ended = true;
    handlers.onEnd(error);
  };
  request.callback = (message, value) => {
    if (message === Request.status) handlers.onStatus(value as number);
    // @moddable/typings gives Request.responseFragment the value of headersComplete (3); http.js's is 4.
    else if (message === 4) handlers.onData(new Uint8Array(request.read(ArrayBuffer)));
    else if (message === Request.responseComplete) end();
    else if (message < 0) end(`HTTP error ${String(value ?? '')}`.trim());
  };
  return {
    abort() {
      ended = true;
      request.close();
    },
  };
}

export const moddableHttp: Http = { get: (url, range, handlers) => streamGet(url, `bytes=${range.start}-${range.end}`, handlers) };
