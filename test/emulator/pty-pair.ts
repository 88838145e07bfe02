// Two connected pseudo-terminals from socat: bytes written to one come out of the other, as over a
// null-modem cable (without modem-control lines, which ptys do not have).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait';

export interface PtyPair {
  a: string;
  b: string;
  stop(): Promise<void>;
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Creates the pair as `a` and `b` inside `dir` (which the caller owns and removes). */
export async function startPtyPair(dir: string): Promise<PtyPair> {
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  socat.stderr!.on('data', (d) => (log += d));
  const created = (): boolean => {
    if (socat.exitCode !== null) throw new Error(`socat exited: ${log}`);
    return existsSync(a) && existsSync(b);
  };
  await waitUntil(created, 10_000, `socat to create ${a} and ${b}`, 20);
  return {
    a,
    b,
    async stop() {
      socat.kill('SIGTERM');
      await exited(socat);
    },
  };
}
