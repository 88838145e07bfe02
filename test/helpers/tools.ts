// System tools some suites need. A missing tool skips the test that needs it, counted as skipped
// (see suite.ts); under CI=true it is a failure that names the Debian package to install.
import { execFileSync } from 'node:child_process';
import { Unavailable } from './suite';

export function hasTool(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws Unavailable when the tool is not on PATH; call at the top of a test or `before` hook. */
export function requireTool(cmd: string, aptPackage: string): void {
  if (!hasTool(cmd)) throw new Unavailable(`needs '${cmd}': apt-get install ${aptPackage}`);
}
