// The one polling helper: waiting on state that other parts change asynchronously (a REST view,
// a recorder's log, a child's output, a page), without racing: the condition is checked before
// the first pause. Messages that can be awaited directly (waitFor in mqtt.ts) need no polling.
import { sleep } from './mqtt';

type Maybe<T> = T | undefined | false;

/**
 * Polls until fn returns (or resolves to) something other than undefined/false, and resolves with
 * it. `what` names the condition in the timeout error; as a function it is asked at the timeout,
 * so it can say what was seen last.
 */
export async function waitUntil<T>(
  fn: () => Maybe<T> | Promise<Maybe<T>>,
  timeoutMs = 5000,
  what: string | (() => string) = 'condition',
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(intervalMs);
  }
}

/** Polls until `check` resolves without throwing; after timeoutMs its last error is thrown. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs: number): Promise<T> {
  let last: unknown;
  const attempt = async (): Promise<{ value: T } | undefined> => {
    try {
      return { value: await check() };
    } catch (err) {
      last = err;
      return undefined;
    }
  };
  try {
    return (await waitUntil(attempt, timeoutMs, 'check', 50)).value;
  } catch (timeout) {
    throw last ?? timeout;
  }
}
