// REST calls to the broker on the same origin. Every failure becomes an ApiError carrying the
// broker's {code, message, field?, since?}, so screens can put it in plain words.
import type { WireError } from '../../../protocol/errors';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly wire: WireError,
  ) {
    super(wire.message);
    this.name = 'ApiError';
  }
}

export const unreachable = (): ApiError => new ApiError(0, { code: 'UNAVAILABLE', message: 'cannot reach the server; check the network and try again' });

export async function request<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw unreachable();
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = (json as { error?: WireError } | null)?.error;
    throw new ApiError(res.status, err ?? { code: 'INTERNAL', message: `the server answered ${res.status} ${res.statusText}` });
  }
  return json as T;
}

/** Fetches a file with the bearer token and hands it to the browser as a download. */
export async function download(path: string, token: string, fallbackName: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  } catch {
    throw unreachable();
  }
  if (!res.ok) {
    const json = (await res.json().catch(() => null)) as { error?: WireError } | null;
    throw new ApiError(res.status, json?.error ?? { code: 'INTERNAL', message: `the server answered ${res.status}` });
  }
  const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
