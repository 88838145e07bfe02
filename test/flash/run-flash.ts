// Runs `npm run flash` as a child process, the way an engineer would, and collects what it printed.
import { SERIAL_TAP_ENV } from '../../host-tools/serial/signal-tap';
import { runNpmScript, type ScriptRun } from '../helpers/npm-script';

export interface FlashRun extends ScriptRun {
  /** The pino JSON lines on stderr (among the progress lines; not a terminal, so JSON). */
  logs: Array<Record<string, unknown>>;
  /** stdout parsed as the one JSON result it must be, or null when it is empty. */
  result: Record<string, unknown> | null;
}

export async function runFlashCli(args: string[], options: { tap?: string; env?: Record<string, string> } = {}): Promise<FlashRun> {
  // Only a run that is given a tap may use one, whatever the calling environment holds.
  const run = await runNpmScript('flash', args, { ...options.env, [SERIAL_TAP_ENV]: options.tap });
  const logs = run.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const out = run.stdout.trim();
  try {
    return { ...run, logs, result: out === '' ? null : (JSON.parse(out) as Record<string, unknown>) };
  } catch {
    throw new Error(`stdout of npm run flash is not one JSON result:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** The one-line error a failed run ends with. */
export function errorLines(run: FlashRun): string[] {
  return run.stderr.split('\n').filter((l) => l.startsWith('flash: '));
}
