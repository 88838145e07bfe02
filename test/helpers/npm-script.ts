// Runs an npm script as a child process and collects what it printed. By default the script's
// command from package.json is run directly (`tsx file` as `node --import tsx file`), which is
// what npm would run, without npm's second of start-up; `viaNpm` runs `npm run` itself.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const root = join(import.meta.dirname, '..', '..');

function scriptCommand(script: string, viaNpm: boolean): [string, string[]] {
  if (viaNpm) return ['npm', ['run', '--silent', script, '--']];
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = scripts[script]?.split(/\s+/) ?? [];
  if (words[0] !== 'tsx' || words.length < 2) throw new Error(`npm script ${script} is ${JSON.stringify(scripts[script])}, not "tsx <file>"`);
  return [process.execPath, ['--import', 'tsx', ...words.slice(1)]];
}

export function runNpmScript(
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  opts: { viaNpm?: boolean } = {},
): Promise<ScriptRun> {
  const [cmd, pre] = scriptCommand(script, opts.viaNpm === true);
  const child = spawn(cmd, [...pre, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      // npm itself may warn on stderr about the user's npmrc; the script's own lines are what count.
      const own = stderr
        .split('\n')
        .filter((l) => !l.startsWith('npm warn'))
        .join('\n');
      resolve({ code, stdout, stderr: own });
    });
  });
}
