// The signed-in agent or admin. The session ends after `idleTimeoutMs` without any touch or key
// press (the broker's setting, from /api/login), with a message saying so. While the person is
// active, the broker's idle clock is reset through /api/me, since an open MQTT connection alone
// does not count as use.
import { ApiError, request } from './api';
import type { Session } from '../../../protocol/rest';
import { Observable } from './observable';

export type { Session };

const SESSION_KEY = 'fleetbind.session';
const ACTIVITY_KEY = 'fleetbind.lastActivity';
const RETURN_KEY = 'fleetbind.returnTo';

function load(): Session | null {
  const raw = localStorage.getItem(SESSION_KEY);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    localStorage.removeItem(SESSION_KEY);
    return null;
  }
}

export const session = new Observable<Session | null>(load());
/** Shown on the sign-in screen: why the person was signed out. */
export const signInNotice = new Observable<string | null>(null);

let lastActivity = Number(localStorage.getItem(ACTIVITY_KEY) ?? Date.now());
let lastServerTouch = Date.now();

export function minutesText(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min >= 1) return `${min} minute${min === 1 ? '' : 's'}`;
  const s = Math.max(1, Math.round(ms / 1000));
  return `${s} second${s === 1 ? '' : 's'}`;
}

export async function signIn(id: string, password: string): Promise<Session> {
  return adoptSession(await request<Session>('POST', '/api/login', { id, password }));
}

/** Makes `s` the signed-in session (from a login, or from an identity-provider token). */
export function adoptSession(s: Session): Session {
  lastActivity = Date.now();
  lastServerTouch = lastActivity;
  localStorage.setItem(ACTIVITY_KEY, String(lastActivity));
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  signInNotice.set(null);
  session.set(s);
  return s;
}

/** Ends the session here and, when the server can be reached, there too. */
export async function signOut(notice: string | null = null): Promise<void> {
  const s = session.get();
  localStorage.removeItem(SESSION_KEY);
  signInNotice.set(notice);
  session.set(null);
  if (s === null) return;
  try {
    await request('POST', '/api/logout', undefined, s.token);
  } catch (err) {
    // An expired or unreachable session is already unusable; the local copy is gone either way.
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 0)) throw err;
  }
}

export function expireSession(): void {
  void signOut('Your session has expired. Please sign in again.');
}

/** REST call with the session's token; a 401 ends the session with a clear message. */
export async function authed<T>(method: string, path: string, body?: unknown): Promise<T> {
  const s = session.get();
  if (s === null) throw new ApiError(401, { code: 'UNAUTHORIZED', message: 'not signed in' });
  try {
    const r = await request<T>(method, path, body, s.token);
    lastServerTouch = Date.now();
    return r;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) expireSession();
    throw err;
  }
}

export function rememberReturnPath(path: string): void {
  sessionStorage.setItem(RETURN_KEY, path);
}

/** Where the person goes after signing in, without forgetting it. */
export function peekReturnPath(): string | null {
  return sessionStorage.getItem(RETURN_KEY);
}

export function takeReturnPath(): string | null {
  const p = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return p;
}

function noteActivity(): void {
  const s = session.get();
  if (s === null) return;
  const now = Date.now();
  lastActivity = now;
  localStorage.setItem(ACTIVITY_KEY, String(now));
  // Keep the broker's idle clock in step with the person, at most every quarter of the window.
  if (now - lastServerTouch > Math.min(60_000, s.idleTimeoutMs / 4)) {
    lastServerTouch = now;
    authed('GET', '/api/me').catch((err: unknown) => console.warn('session keep-alive failed', err));
  }
}

export function startIdleWatch(): void {
  for (const ev of ['pointerdown', 'keydown', 'touchstart', 'wheel'] as const) addEventListener(ev, noteActivity, { passive: true, capture: true });
  setInterval(() => {
    const s = session.get();
    if (s === null) return;
    // Another tab may have been active more recently.
    lastActivity = Math.max(lastActivity, Number(localStorage.getItem(ACTIVITY_KEY) ?? 0));
    if (Date.now() - lastActivity >= s.idleTimeoutMs) {
      void signOut(`You were signed out after ${minutesText(s.idleTimeoutMs)} without activity. Please sign in again.`);
    }
  }, 1000);
}
