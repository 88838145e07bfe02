// A value that screens re-render on. Small enough that the app needs no state library.
import { useEffect, useState } from 'preact/hooks';

export class Observable<T> {
  private listeners = new Set<(v: T) => void>();
  constructor(private value: T) {}

  get(): T {
    return this.value;
  }

  set(next: T): void {
    if (Object.is(next, this.value)) return;
    this.value = next;
    for (const l of [...this.listeners]) l(next);
  }

  update(fn: (v: T) => T): void {
    this.set(fn(this.value));
  }

  subscribe(listener: (v: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function useObservable<T>(o: Observable<T>): T {
  const [, setTick] = useState(0);
  const rendered = o.get();
  useEffect(() => {
    const unsubscribe = o.subscribe(() => setTick((n) => n + 1));
    // Effects run after paint: a change that landed between render and here would be missed.
    if (o.get() !== rendered) setTick((n) => n + 1);
    return unsubscribe;
  }, [o]);
  return rendered;
}

/** Re-renders every `ms` (for countdowns and "since" times). */
export function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
