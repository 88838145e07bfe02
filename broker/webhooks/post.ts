// One HTTP POST of a signed event to an endpoint, with a timeout; resolves with the status or
// the reason it never got one. Uses node:http so the guarded DNS lookup applies to the socket.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup } from './address';

export interface PostResult {
  status: number | null;
  error: string | null;
  latencyMs: number;
}

export function postEvent(url: string, body: string, headers: Record<string, string>, timeoutMs: number, allowPrivate: boolean): Promise<PostResult> {
  const started = performance.now();
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const done = (status: number | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      resolve({ status, error, latencyMs: Math.round(performance.now() - started) });
    };
    const req = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'fleetbind-webhooks', ...headers },
        lookup: guardedLookup(allowPrivate) as never,
        timeout: timeoutMs,
      },
      (res) => {
        // Only the status matters; drain so the socket can be reused.
        res.resume();
        res.on('end', () => done(res.statusCode ?? null, null));
        res.on('error', (err) => done(res.statusCode ?? null, err.message));
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    req.on('error', (err) => done(null, err.message));
    req.end(body);
  });
}
