// System tools some suites need. Outside CI a missing tool skips (and is counted as skipped);
// under CI=true it is a failure that names the Debian package to install.
import { execFileSync } from 'node:child_process';

export function hasTool(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Returns true when the tool is there. Call at the top of a test and return early when false. */
export function skipUnlessTool(testName: string, cmd: string, aptPackage: string): boolean {
  if (hasTool(cmd)) return true;
  const why = `${testName} needs '${cmd}': apt-get install ${aptPackage}`;
  if (process.env.CI === 'true') throw new Error(`missing system tool under CI: ${why}`);
  // Own line: uvu prints its progress marks without newlines.
  console.log(`\n# skip: ${why}`);
  return false;
}
