// Runs every test/**/*.test.ts in its own Node process (uvu suites), then prints one
// summary line "N passed, N failed, N skipped" that CI reads. A test skipped at run time (see
// test/helpers/suite.ts) prints its own "# skip:" line: it is counted as skipped, not passed, and
// under CI=true as failed. `--dir DIR` runs the tests under DIR instead of test/.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { defineCli, readCli } from '../host-tools/cli/args';
import { SKIP_MARK } from '../test/helpers/suite';

const root = join(import.meta.dirname, '..');
const args = readCli(
  defineCli({
    command: 'npm test --',
    usage: ['[--dir DIR] [FILTER ...]'],
    summary:
      'Runs every test/**/*.test.ts in its own Node process and prints one summary line "N passed, N failed, N skipped". Under CI=true a skipped test counts as failed.',
    options: { dir: { type: 'string', value: 'DIR', help: 'run the tests under DIR instead of test/' } },
    positionals: { 'FILTER ...': 'run only the test files whose path contains one of these' },
    freePositionals: true,
  }),
);
const filters = args.positionals;
const testDir = resolve(args.values.dir ?? join(root, 'test'));
const ci = process.env.CI === 'true';

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'artifacts' || name === 'fixtures') continue;
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  skips: string[];
  ms: number;
  output: string;
  code: number | null;
}
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  skips: string[];
  problem?: string;
}

// uvu prints "Total: N / Passed: N / Skipped: N" for the whole file. Its "Passed" includes tests
// skipped at run time, each of which printed one SKIP_MARK line; its "Skipped" are tests marked
// `.skip` in the source.
function count(output: string, code: number | null, underCi: boolean): Counts {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes being removed.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const last = (label: string): number | null => {
    const m = [...plain.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))].at(-1);
    return m ? Number(m[1]) : null;
  };
  const total = last('Total');
  const uvuPassed = last('Passed');
  const marked = last('Skipped') ?? 0;
  const skips = plain
    .split('\n')
    .filter((l) => l.startsWith(SKIP_MARK))
    .map((l) => l.slice(SKIP_MARK.length));
  if (total === null || uvuPassed === null) return { passed: 0, failed: 1, skipped: 0, skips, problem: 'no uvu totals in the output' };
  if (skips.length > uvuPassed) return { passed: 0, failed: 1, skipped: 0, skips, problem: `${skips.length} skip lines but only ${uvuPassed} tests passed` };
  let failed = total - uvuPassed + (code !== 0 && total === uvuPassed ? 1 : 0);
  let skipped = skips.length + marked;
  if (underCi) {
    failed += skipped;
    skipped = 0;
  }
  return { passed: uvuPassed - skips.length, failed, skipped, skips };
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NODE_DISABLE_COLORS: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const limitMs = Number(process.env.FLEETBIND_TEST_FILE_TIMEOUT_MS ?? 600_000);
    const timer = setTimeout(() => {
      output += `\n[run-tests] ${relative(root, file)} exceeded ${limitMs} ms and was killed\n`;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const c = count(output, code, ci);
      if (c.problem) output += `\n[run-tests] ${c.problem}\n`;
      resolve({ file, ...c, ms: Date.now() - started, output, code });
    });
  });
}

// Matched against the path inside the checkout: the checkout's own folder name must not match every file.
const files = findTests(testDir).filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)));
const parallel = Math.max(1, Math.min(Number(process.env.FLEETBIND_TEST_JOBS ?? availableParallelism()), 4));
const results: FileResult[] = [];
let next = 0;
async function worker(): Promise<void> {
  while (next < files.length) {
    const file = files[next++]!;
    const r = await runFile(file);
    results.push(r);
    const status = r.failed > 0 ? 'FAIL' : 'ok  ';
    console.log(`${status} ${relative(root, file)}  ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped  (${(r.ms / 1000).toFixed(1)} s)`);
    if (r.failed > 0 || process.env.FLEETBIND_TEST_VERBOSE) console.log(r.output.replace(/^/gm, '    | '));
  }
}
await Promise.all(Array.from({ length: parallel }, worker));
const sum = (k: 'passed' | 'failed' | 'skipped') => results.reduce((n, r) => n + r[k], 0);
const failed = sum('failed');
for (const r of results) for (const why of r.skips) console.log(`${ci ? 'FAILED (CI=true, nothing may skip)' : 'skipped'}: ${relative(root, r.file)}: ${why}`);
console.log(`${sum('passed')} passed, ${failed} failed, ${sum('skipped')} skipped`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
