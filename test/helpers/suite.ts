// uvu suites whose tests are skipped one by one, visibly. uvu has no skip at run time: a test
// that returns early because a tool is missing counts as passed. Here a test, or a suite's
// `before` hook, throws Unavailable (see requireTool, requireBackends) and each test it concerns
// prints its own line "# skip: <suite> › <test>: <reason>", which scripts/run-tests.ts counts as
// skipped and not as passed. Under CI=true nothing may skip: the test fails with the reason.
import { type Callback, type Test, suite as uvuSuite } from 'uvu';

/** Something a test needs is not on this machine; the message says what to install or start. */
export class Unavailable extends Error {}

/** The start of the line the test runner counts, one per skipped test. */
export const SKIP_MARK = '# skip: ';

type Hook<T> = Test<T>['before'];

/**
 * A uvu suite without `only` and `skip`: a test is skipped only when it finds something missing
 * (requireTool, requireBackends), never because it was marked, and none is focused by accident.
 */
export type Suite<T> = ((name: string, test: Callback<T>) => void) & Omit<Test<T>, 'only' | 'skip'>;

export function suite<T = Record<string, any>>(name: string, context?: T): Suite<T> {
  const inner = uvuSuite<T>(name, context);
  // Set when a `before` hook found something missing: then every test of the suite is skipped.
  let missing: Unavailable | null = null;

  const wrap =
    (testName: string, fn: Callback<T>): Callback<T> =>
    async (ctx) => {
      try {
        if (missing) throw missing;
        await fn(ctx);
      } catch (err) {
        if (!(err instanceof Unavailable)) throw err;
        if (process.env.CI === 'true') throw new Error(`${err.message} (CI=true: nothing may be skipped)`);
        // Own line: uvu prints its progress marks without newlines.
        console.log(`\n${SKIP_MARK}${name} › ${testName}: ${err.message}`);
      }
    };
  const unlessMissing =
    (fn: Callback<T>): Callback<T> =>
    (ctx) =>
      missing ? undefined : fn(ctx);

  const before = ((fn: Callback<T>) =>
    inner.before(async (ctx) => {
      if (missing) return;
      try {
        await fn(ctx);
      } catch (err) {
        if (!(err instanceof Unavailable)) throw err;
        missing = err;
      }
    })) as Hook<T>;
  before.each = (fn) => inner.before.each(unlessMissing(fn));
  // `after` always runs, as in uvu: cleanup copes with a setup that stopped part-way.
  const after = ((fn: Callback<T>) => inner.after(fn)) as Hook<T>;
  after.each = (fn) => inner.after.each(unlessMissing(fn));

  const t = ((testName: string, fn: Callback<T>) => inner(testName, wrap(testName, fn))) as Suite<T>;
  t.before = before;
  t.after = after;
  t.run = () => inner.run();
  return t;
}
