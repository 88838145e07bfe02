// The web tests run against the built app (web/dist), as the broker serves it in production.
// It is rebuilt when any of its sources is newer than the build; a lock keeps parallel test
// files from building at once.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait';

const root = join(import.meta.dirname, '..', '..');
const dist = join(root, 'web', 'dist', 'index.html');
const SOURCES = ['web/src', 'web/public', 'web/index.html', 'web/vite.config.ts', 'protocol', 'host-tools'];

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

const stale = (): boolean => !existsSync(dist) || Math.max(...SOURCES.map((p) => newest(join(root, p)))) > statSync(dist).mtimeMs;

export async function ensureWebBuilt(): Promise<void> {
  if (!stale()) return;
  const lock = join(tmpdir(), 'fleetbind-web-build.lock');
  const locked = (): boolean => {
    try {
      mkdirSync(lock);
      return true;
    } catch {
      // Another test file is building; a lock older than the wait is a crashed build.
      if (Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      return false;
    }
  };
  await waitUntil(locked, 180_000, `${lock} (remove it if no build is running)`, 250);
  try {
    if (stale())
      execFileSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
        cwd: root,
        stdio: 'inherit',
      });
  } finally {
    rmdirSync(lock);
  }
}
