// The peers a benchmark measures fleetbind against, each in its own process: bare Aedes started
// here, and Mosquitto when the machine runs one on 127.0.0.1:1883.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rssOf } from './proc';

const root = join(import.meta.dirname, '..', '..');

export interface PeerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Bare Aedes in a child process; resolves once it listens. */
export async function startBareAedes(persistence: 'upstream' | 'indexed'): Promise<PeerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/bare-aedes.ts', '--persistence', persistence], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare Aedes exited with ${code} before listening`)));
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

/** Mosquitto's pid when one is listening as the machine's peer (the brief's 127.0.0.1:1883). */
export function mosquittoPid(): number | null {
  for (const file of ['/run/mosquitto/mosquitto.pid', '/var/run/mosquitto.pid']) {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0 && rssOf(pid) !== null) return pid;
    } catch {
      // Not this location; try the next.
    }
  }
  return null;
}
