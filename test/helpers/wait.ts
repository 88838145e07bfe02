// Waiting on state that other parts change asynchronously (a recorder's log, a child's output),
// without racing: the condition is checked before the first sleep.
import { sleep } from './mqtt';

type Maybe<T> = T | undefined | false;

/** Polls until fn returns (or resolves to) something other than undefined/false, and resolves with it. */
export async function waitUntil<T>(fn: () => Maybe<T> | Promise<Maybe<T>>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
