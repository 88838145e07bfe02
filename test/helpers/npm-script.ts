// Runs an npm script as a child process, the way an engineer would, and collects what it printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface ScriptRun { code: number | null; stdout: string; stderr: string }

const root = join(import.meta.dirname, '..', '..');

export function runNpmScript(script: string, args: string[], env: Record<string, string | undefined> = {}): Promise<ScriptRun> {
  const child = spawn('npm', ['run', '--silent', script, '--', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
