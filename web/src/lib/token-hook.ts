// The hook through which an operator's own portal signs an agent in with a token from its
// identity provider and keeps it fresh (docs/architecture.md, "Agent identity from the operator's
// identity provider"):
//   window.fleetbind.setToken(jwt)  signs in, or swaps in a renewed token; REST calls use it at once
//                                   and the live MQTT connection reconnects with it
//   'fleetbind:token-expiring'      a window event one minute before the token's exp (detail:
//                                   { expiresAt }); answer it by calling setToken with a new token
// The broker closes a live connection when its token expires, so a portal that never renews sees
// its agent signed out at expiry.
import type { Me } from '../../../protocol/rest';
import { request } from './api';
import { adoptSession, expireSession, session } from './session';

const WARN_BEFORE_MS = 60_000;
let warnTimer: ReturnType<typeof setTimeout> | undefined;
let endTimer: ReturnType<typeof setTimeout> | undefined;

function expiryOf(jwt: string): number {
  const part = jwt.split('.')[1] ?? '';
  const json = atob(
    part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '='),
  );
  const exp = (JSON.parse(json) as { exp?: unknown }).exp;
  if (typeof exp !== 'number') throw new Error('the token has no exp claim');
  return exp * 1000;
}

export async function setToken(jwt: string): Promise<void> {
  const expiresAt = expiryOf(jwt);
  const who = await request<Me>('GET', '/api/me', undefined, jwt);
  // The identity provider decides how long the agent stays signed in, not the idle timer.
  adoptSession({ token: jwt, ...who, expiresAt, idleTimeoutMs: Number.MAX_SAFE_INTEGER });
  clearTimeout(warnTimer);
  clearTimeout(endTimer);
  warnTimer = setTimeout(
    () => dispatchEvent(new CustomEvent('fleetbind:token-expiring', { detail: { expiresAt } })),
    Math.max(0, expiresAt - WARN_BEFORE_MS - Date.now()),
  );
  endTimer = setTimeout(
    () => {
      if (session.get()?.token === jwt) expireSession();
    },
    Math.max(0, expiresAt - Date.now()),
  );
}

export function installTokenHook(): void {
  (window as unknown as { fleetbind: { setToken: typeof setToken } }).fleetbind = { setToken };
}
