// The test runner counts a test skipped for a missing tool as skipped, never as passed, and under
// CI=true as failed with the package to install. It runs on fixture tests (test/fixtures/runner)
// that need a tool which exists only in a temporary PATH entry, so hiding it is dropping that entry.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from '../helpers/suite';

const root = join(import.meta.dirname, '..', '..');
const t = suite<{ bin: string }>('scripts/run-tests.ts');

t.before((ctx) => {
  ctx.bin = mkdtempSync(join(tmpdir(), 'fleetbind-runner-'));
  writeFileSync(join(ctx.bin, 'fleetbind-fixture-tool'), '#!/bin/sh\n');
  chmodSync(join(ctx.bin, 'fleetbind-fixture-tool'), 0o755);
});
t.after((ctx) => rmSync(ctx.bin, { recursive: true, force: true }));

function runner(path: string, ci: boolean): { code: number | null; out: string; summary: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path };
  delete env.CI;
  if (ci) env.CI = 'true';
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/run-tests.ts', '--dir', 'test/fixtures/runner'], { cwd: root, env, encoding: 'utf8' });
  const out = r.stdout + r.stderr;
  const summary = out.trim().split('\n').at(-1) ?? '';
  return { code: r.status, out, summary };
}

t('with the tool on PATH every fixture test runs and passes', (ctx) => {
  const r = runner(ctx.bin + delimiter + process.env.PATH, false);
  assert.is(r.summary, '6 passed, 0 failed, 0 skipped', r.out);
  assert.is(r.code, 0);
});

t('with the tool hidden, the four tests that need it are skipped, not passed, and named', () => {
  const r = runner(process.env.PATH!, false);
  assert.is(r.summary, '2 passed, 0 failed, 4 skipped', r.out);
  assert.is(r.code, 0);
  assert.match(
    r.out,
    "skipped: test/fixtures/runner/one-test-needs-tool.test.ts: needs the tool in one test › needs the tool: needs 'fleetbind-fixture-tool': apt-get install fleetbind-fixture-pkg",
  );
  assert.match(r.out, /suite-needs-tool\.test\.ts {2}0 passed, 0 failed, 3 skipped/);
});

t('with the tool hidden and CI=true, every skip is a failure naming the package', () => {
  const r = runner(process.env.PATH!, true);
  assert.is(r.summary, '2 passed, 4 failed, 0 skipped', r.out);
  assert.is(r.code, 1);
  assert.match(r.out, "needs 'fleetbind-fixture-tool': apt-get install fleetbind-fixture-pkg (CI=true: nothing may be skipped)");
});

t.run();
