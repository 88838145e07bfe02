// Runs every test/**/*.test.ts in its own Node process (uvu suites), then prints one
// summary line "N passed, N failed, N skipped" that CI reads.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = join(import.meta.dirname, '..');
const filters = process.argv.slice(2);

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

interface FileResult { file: string; passed: number; failed: number; skipped: number; ms: number; output: string; code: number | null }

// uvu prints "Total: N / Passed: N / Skipped: N"; a test that calls skipUnlessTool prints "# skip: ...".
function parse(output: string): { total: number; passed: number; skipped: number } | null {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const totals = [...plain.matchAll(/^\s*Total:\s+(\d+)/gm)];
  const passes = [...plain.matchAll(/^\s*Passed:\s+(\d+)/gm)];
  if (totals.length === 0 || passes.length === 0) return null;
  const total = Number(totals.at(-1)![1]);
  const passed = Number(passes.at(-1)![1]);
  const skipped = (plain.match(/^# skip: /gm) ?? []).length;
  return { total, passed, skipped };
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
      const r = parse(output);
      const ms = Date.now() - started;
      if (!r) {
        resolve({ file, passed: 0, failed: 1, skipped: 0, ms, output, code });
        return;
      }
      const failed = r.total - r.passed + (code !== 0 && r.total === r.passed ? 1 : 0);
      resolve({ file, passed: r.passed - r.skipped, failed, skipped: r.skipped, ms, output, code });
    });
  });
}

const files = findTests(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
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
console.log(`${sum('passed')} passed, ${failed} failed, ${sum('skipped')} skipped`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
