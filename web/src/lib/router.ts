// Path-based routing on the History API, so label URLs (/c/<code>.<sig>) open the right screen.
import { Observable, useObservable } from './observable';

export const currentPath = new Observable<string>(location.pathname + location.search);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === currentPath.get()) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  currentPath.set(to);
  window.scrollTo(0, 0);
}

addEventListener('popstate', () => currentPath.set(location.pathname + location.search));

export function usePath(): string {
  return useObservable(currentPath);
}

/** Matches "/devices/:id" against a path; returns the decoded params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = (path.split('?')[0] ?? '').split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.startsWith(':')) {
      try {
        out[seg.slice(1)] = decodeURIComponent(s[i]!);
      } catch {
        return null;
      }
    } else if (seg !== s[i]) return null;
  }
  return out;
}

export function queryParam(path: string, name: string): string | null {
  const q = path.split('?')[1];
  return q === undefined ? null : new URLSearchParams(q).get(name);
}
