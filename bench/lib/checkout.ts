// Another commit's source tree beside this one, so a benchmark can run fleetbind from before a
// change in the same interleaved rounds as the current code. It shares this checkout's
// node_modules, so it suits commits with the same dependencies.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export interface Checkout {
  dir: string;
  commit: string;
  remove(): void;
}

export function checkoutOf(ref: string): Checkout {
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
  const parent = mkdtempSync(join(tmpdir(), 'fleetbind-before-'));
  const dir = join(parent, 'tree');
  execFileSync('git', ['worktree', 'add', '--detach', dir, commit], { cwd: root, stdio: 'ignore' });
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return {
    dir,
    commit,
    remove: () => {
      execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root, stdio: 'ignore' });
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
