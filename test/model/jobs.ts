// Long model runs in parallel (`--jobs K`): the model test waits on the network far more than it
// computes (docs/architecture.md, Testing approach), so K independent processes, each with its own
// broker and data dir and its own seeds, cover K times the steps in the same wall time. Each child
// reports its totals as a JSON line after every run; this sums them into progress lines and one
// summary, and fails if any child fails.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What a child reports (runner.ts, `--json`): its totals so far. */
export interface Totals {
  runs: number;
  steps: number;
  faults: number;
  drops: number;
  delays: number;
  restarts: number;
}

/** A child's JSON line starts with this, so the rest of its output passes through as it is. */
export const TOTALS_MARK = 'model-totals ';

const ZERO: Totals = { runs: 0, steps: 0, faults: 0, drops: 0, delays: 0, restarts: 0 };
const PROGRESS_MS = 30_000;

function sum(all: Totals[]): Totals {
  const out = { ...ZERO };
  for (const t of all) for (const k of Object.keys(out) as (keyof Totals)[]) out[k] += t[k];
  return out;
}

export function describe(t: Totals, seconds: number): string {
  return `${t.runs} runs (incl. shrinking), ${t.steps} steps, ${t.faults} faults (${t.drops} connections cut, ${t.delays} delays, ${t.restarts} SIGKILL restarts) in ${seconds.toFixed(0)} s, ${(t.steps / seconds).toFixed(1)} steps/s`;
}

/**
 * Runs `jobs` children of this test with `runs` split between them; child j takes seed
 * `seed + 2j` (its restart runs `seed + 2j + 1`). `args` are the rest of the command line.
 */
export async function runJobs(jobs: number, runs: number, seed: number, args: string[]): Promise<void> {
  const started = Date.now();
  const totals: Totals[] = Array.from({ length: jobs }, () => ({ ...ZERO }));
  const elapsed = (): number => (Date.now() - started) / 1000;
  console.log(`model: ${jobs} jobs, ${runs} runs in all, seeds ${seed}, ${seed + 2}, … ${seed + 2 * (jobs - 1)}`);
  const timer = setInterval(() => console.log(`model: ${describe(sum(totals), elapsed())}`), PROGRESS_MS);
  const failed: number[] = [];
  try {
    await Promise.all(
      totals.map((_, j) => {
        const mine = Math.floor(runs / jobs) + (j < runs % jobs ? 1 : 0);
        const child = spawn(
          process.execPath,
          [...process.execArgv, process.argv[1]!, ...args, '--runs', String(mine), '--seed', String(seed + 2 * j), '--json'],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.startsWith(TOTALS_MARK)) totals[j] = JSON.parse(line.slice(TOTALS_MARK.length)) as Totals;
          else if (line.trim() !== '') console.log(`[job ${j}] ${line}`);
        });
        return new Promise<void>((resolve) =>
          child.once('exit', (code, signal) => {
            if (code !== 0) failed.push(j);
            console.log(`model: job ${j} (seed ${seed + 2 * j}) ended ${code === 0 ? 'passing' : `failing (${code ?? signal})`}`);
            resolve();
          }),
        );
      }),
    );
  } finally {
    clearInterval(timer);
  }
  console.log(`\nmodel: ${jobs} jobs: ${describe(sum(totals), elapsed())}`);
  if (failed.length > 0) {
    console.error(`model: job(s) ${failed.join(', ')} failed; their output above has the seed and the command that replays the failure`);
    process.exitCode = 1;
  }
}
