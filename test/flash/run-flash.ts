// Runs `npm run flash` as a child process, the way an engineer would, and collects what it printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SERIAL_TAP_ENV } from '../../host-tools/serial/signal-tap';

export interface FlashRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as the JSON log lines it must consist of. */
  logs: Array<Record<string, unknown>>;
}

const root = join(import.meta.dirname, '..', '..');

export function runFlashCli(args: string[], options: { tap?: string; env?: Record<string, string> } = {}): Promise<FlashRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  delete env[SERIAL_TAP_ENV];
  if (options.tap) env[SERIAL_TAP_ENV] = options.tap;
  const child = spawn('npm', ['run', '--silent', 'flash', '--', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      // npm itself may warn on stderr about the user's npmrc; the flasher's own lines are what count.
      stderr = stderr
        .split('\n')
        .filter((l) => !l.startsWith('npm warn'))
        .join('\n');
      let logs: Array<Record<string, unknown>>;
      try {
        logs = stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      } catch {
        reject(new Error(`stdout of npm run flash is not JSON lines:\n${stdout}\nstderr:\n${stderr}`));
        return;
      }
      resolve({ code, stdout, stderr, logs });
    });
  });
}

/** The one-line error a failed run ends with. */
export function errorLines(run: FlashRun): string[] {
  return run.stderr.split('\n').filter((l) => l.startsWith('flash: '));
}
