// Test rig: a socat pty pair with the emulator process on one end. The other end, `hostPath`, is
// what the code under test opens as its serial port; `tapPath` is the emulator's signal tap.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait';
import { exited, startPtyPair } from './pty-pair';

export interface RigOptions {
  mac?: string;
  chip?: string;
  initial?: 'app' | 'download';
  failWritesFrom?: number;
  maxBaud?: number;
  appOutput?: string;
}

export interface EmulatorEvent {
  t: number;
  ev: string;
  [key: string]: unknown;
}

export interface Rig {
  dir: string;
  hostPath: string;
  tapPath: string;
  events(): EmulatorEvent[];
  commands(): EmulatorEvent[];
  /** The emulated flash, after every command received so far has been handled. */
  flash(): Promise<Uint8Array>;
  stop(): Promise<void>;
}

const root = join(import.meta.dirname, '..', '..');

function control(tapPath: string, message: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(tapPath, () => socket.write(`${JSON.stringify(message)}\n`));
    socket.setEncoding('utf8');
    socket.once('data', (line: string) => {
      socket.end();
      const reply = JSON.parse(line) as { ok: boolean; error?: string };
      if (reply.ok) resolve();
      else reject(new Error(reply.error));
    });
    socket.once('error', reject);
  });
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-emu-'));
  const pair = await startPtyPair(dir);
  const hostPath = pair.a;
  const chipPath = pair.b;
  const tapPath = join(dir, 'tap.sock');
  const logPath = join(dir, 'emulator.jsonl');

  const args = ['--import', 'tsx', join(root, 'test/emulator/emulator.ts'), '--port', chipPath, '--control', tapPath, '--log', logPath];
  if (options.mac) args.push('--mac', options.mac);
  if (options.chip) args.push('--chip', options.chip);
  if (options.initial) args.push('--initial', options.initial);
  if (options.failWritesFrom !== undefined) args.push('--fail-writes-from', String(options.failWritesFrom));
  if (options.maxBaud !== undefined) args.push('--max-baud', String(options.maxBaud));
  if (options.appOutput !== undefined) args.push('--app-output', options.appOutput);
  const emulator = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  emulator.stdout!.on('data', (d) => (out += d));
  emulator.stderr!.on('data', (d) => (out += d));
  const stop = async (): Promise<void> => {
    emulator.kill('SIGTERM');
    await exited(emulator);
    await pair.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ready = (): boolean => {
      if (emulator.exitCode !== null) throw new Error(`emulator exited: ${out}`);
      return out.includes('ready');
    };
    // Starting node with tsx on a machine running many suites at once can take well over 10 s.
    await waitUntil(ready, 60_000, 'the emulator to start', 20);
  } catch (e) {
    await stop();
    throw e;
  }

  const events = (): EmulatorEvent[] =>
    existsSync(logPath)
      ? readFileSync(logPath, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as EmulatorEvent)
      : [];

  return {
    dir,
    hostPath,
    tapPath,
    events,
    commands: () => events().filter((e) => e.ev === 'command'),
    async flash() {
      const dumpPath = join(dir, `flash-${Date.now()}.bin`);
      await control(tapPath, { dump: dumpPath });
      return new Uint8Array(readFileSync(dumpPath));
    },
    stop,
  };
}
