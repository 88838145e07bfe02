// The broker as operators run it (`npm start`): a child process on a data dir, found through its
// "listening" log line, stopped with a real signal. Its stdout and stderr are kept for assertions.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type ApiResult, api } from './broker';
import { waitUntil } from './wait';

const root = join(import.meta.dirname, '..', '..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class BrokerProcess {
  stdout = '';
  stderr = '';
  private exited: Promise<Exit>;

  private constructor(
    readonly child: ChildProcess,
    readonly adminToken: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
  }

  /**
   * Starts `broker/main.ts` on 127.0.0.1 with ephemeral ports; the admin token goes in
   * FLEETBIND_ADMIN_TOKEN. `nodeFlags` go to Node itself (a benchmark's --cpu-prof); `checkout`
   * is the source tree to run (a benchmark's broker from before a change).
   */
  static async start(dataDir: string, adminToken: string, flags: string[] = [], nodeFlags: string[] = [], checkout = root): Promise<BrokerProcess> {
    // Node runs tsx directly (not through npx), so signals reach the broker itself.
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        '--import',
        'tsx',
        'broker/main.ts',
        '--data-dir',
        dataDir,
        '--mqtt-port',
        '0',
        '--http-port',
        '0',
        '--host',
        '127.0.0.1',
        '--grace-ms',
        '1000',
        ...flags,
      ],
      {
        cwd: checkout,
        env: { ...process.env, FLEETBIND_ADMIN_TOKEN: adminToken, FLEETBIND_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const p = new BrokerProcess(child, adminToken);
    let exit: Exit | null = null;
    void p.exited.then((e) => (exit = e));
    try {
      // tsx compiles the whole broker on a cold start: on a loaded 2-core machine that took over 30 s.
      await waitUntil(
        () => {
          if (exit) throw new Error(`broker exited (${JSON.stringify(exit)}) before listening:\n${p.stderr}\n${p.stdout}`);
          return p.listening();
        },
        90_000,
        'the broker to log "listening"',
      );
    } catch (err) {
      // Nobody gets a handle on a broker that never listened: end it here, or it outlives the run.
      await p.kill();
      throw err;
    }
    return p;
  }

  /** Every JSON log line on stdout. */
  logLines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  private listening(): { mqttPort: number; httpPort: number } | undefined {
    const line = this.logLines().find((l) => l.msg === 'listening');
    return line ? { mqttPort: line.mqttPort as number, httpPort: line.httpPort as number } : undefined;
  }

  private get ports(): { mqttPort: number; httpPort: number } {
    const p = this.listening();
    if (!p) throw new Error('broker is not listening');
    return p;
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.ports.mqttPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.ports.httpPort}`;
  }

  api<T = any>(method: string, path: string, body?: unknown, token: string | undefined = this.adminToken): Promise<ApiResult<T>> {
    return api<T>(this.httpUrl, method, path, body, token);
  }

  /** Sends the signal and resolves with how the process ended. */
  stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<Exit> {
    this.child.kill(signal);
    return Promise.race([
      this.exited,
      new Promise<Exit>((_, reject) => setTimeout(() => reject(new Error(`broker did not exit within ${timeoutMs} ms of ${signal}`)), timeoutMs).unref()),
    ]);
  }

  /** For cleanup after a failed test: makes sure the process is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) await this.stop('SIGKILL');
  }
}
