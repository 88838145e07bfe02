// The simulator's ranged HTTP GET for the firmware core (the device uses Moddable's http
// Request, firmware/platform/http.ts): Node's fetch with a Range header, the body streamed on.
import type { Http, HttpGetHandlers } from '../../firmware/core/platform';

function get(url: string, range: { start: number; end: number }, h: HttpGetHandlers): { abort(): void } {
  const abort = new AbortController();
  let ended = false;
  const end = (error?: string): void => {
    if (ended) return;
    ended = true;
    h.onEnd(error);
  };
  void (async () => {
    const res = await fetch(url, { headers: { range: `bytes=${range.start}-${range.end}` }, signal: abort.signal });
    h.onStatus(res.status);
    if (res.body) for await (const chunk of res.body) h.onData(chunk as Uint8Array);
    end();
  })().catch((err: unknown) => end(err instanceof Error ? err.message : String(err)));
  return {
    abort() {
      ended = true;
      abort.abort();
    },
  };
}

export const nodeHttp: Http = { get };
