// Where the broker's admin API is and which bearer token to use, from flags or the environment.
// The token is an admin session token (POST /api/login as admin:<name>) or the operator's
// FLEETBIND_ADMIN_TOKEN; either way it only ever goes into the Authorization header.
import { usageError } from './errors';
import { loadSession } from './session-file';

export const ADMIN_TOKEN_ENV = 'FLEETBIND_ADMIN_TOKEN';
export const BROKER_API_ENV = 'FLEETBIND_BROKER_API';
export const DEFAULT_BROKER_API = 'http://localhost:8080';

/** Options of every CLI that talks to the admin API (see host-tools/cli/args.ts). */
export const CONNECTION_OPTIONS = {
  'broker-api': { type: 'string', value: 'URL', help: `the broker's HTTP API (default ${DEFAULT_BROKER_API})`, env: BROKER_API_ENV },
  'admin-token': { type: 'string', value: 'T', help: "an admin session token or the operator's admin token", env: ADMIN_TOKEN_ENV },
} as const;

export interface Connection {
  baseUrl: string;
  token: string;
}

export function brokerApiUrl(text: string, flag = '--broker-api'): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`${flag} must be a URL such as https://fleet.example.com, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${flag} must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  return url.href.replace(/\/+$/, '');
}

export function resolveConnection(
  values: { 'broker-api'?: string | undefined; 'admin-token'?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Connection {
  const baseUrl = brokerApiUrl(values['broker-api'] ?? env[BROKER_API_ENV] ?? DEFAULT_BROKER_API);
  // A session saved by `npm run fleet -- login` for this broker, when no token is given.
  const token = (values['admin-token'] ?? env[ADMIN_TOKEN_ENV] ?? loadSession(baseUrl, env)?.token ?? '').trim();
  if (token === '') throw usageError(`no admin token: run npm run fleet -- login, pass --admin-token T or set $${ADMIN_TOKEN_ENV}`);
  return { baseUrl, token };
}
