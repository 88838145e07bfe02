// Waiting on state that other parts change asynchronously (a recorder's log, a child's output),
// without racing: the condition is checked before the first sleep.
import { sleep } from './mqtt';

/** Polls until fn returns something other than undefined/false, and resolves with it. */
export async function waitUntil<T>(fn: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
