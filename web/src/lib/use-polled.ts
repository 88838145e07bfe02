// A REST view read now and every few seconds while the screen shows it (pool counts, leases and
// queues change by the second and have no push of their own to admins).
import { useEffect, useState } from 'preact/hooks';
import { authed } from './session';
import { errorText } from './words';

export function usePolled<T>(path: string, everyMs: number, deps: unknown[] = []): { data: T | null; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      authed<T>('GET', path).then(
        (d) => {
          if (stopped) return;
          setData(d);
          setError(null);
        },
        (err: unknown) => !stopped && setError(errorText(err)),
      );
    void load();
    const t = setInterval(() => void load(), everyMs);
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, [path, everyMs, ...deps]);
  return { data, error };
}
