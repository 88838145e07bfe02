// Runs `npm run flash` as a child process, the way an engineer would, and collects what it printed.
import { SERIAL_TAP_ENV } from '../../host-tools/serial/signal-tap';
import { runNpmScript, type ScriptRun } from '../helpers/npm-script';

export interface FlashRun extends ScriptRun {
  /** stdout parsed as the JSON log lines it must consist of. */
  logs: Array<Record<string, unknown>>;
}

export async function runFlashCli(args: string[], options: { tap?: string; env?: Record<string, string> } = {}): Promise<FlashRun> {
  // Only a run that is given a tap may use one, whatever the calling environment holds.
  const run = await runNpmScript('flash', args, { ...options.env, [SERIAL_TAP_ENV]: options.tap });
  const lines = run.stdout.split('\n').filter(Boolean);
  try {
    return { ...run, logs: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  } catch {
    throw new Error(`stdout of npm run flash is not JSON lines:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** The one-line error a failed run ends with. */
export function errorLines(run: FlashRun): string[] {
  return run.stderr.split('\n').filter((l) => l.startsWith('flash: '));
}
