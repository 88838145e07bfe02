import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '..', '..');
const t = suite('memory persistence');

t("passes aedes-persistence's own abstract test suite", () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/helpers/aedes-persistence-conformance.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const out = `${run.stdout}\n${run.stderr}`;
  const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN);
  assert.is(run.status, 0, out.slice(-3000));
  assert.is(count('fail'), 0, out.slice(-3000));
  // The suite of aedes-persistence 11 has 50 tests; fewer would mean part of it did not run.
  assert.ok(count('pass') >= 50, `only ${count('pass')} upstream tests passed:\n${out.slice(-3000)}`);
  assert.is(count('pass'), count('tests'));
});

t.run();
