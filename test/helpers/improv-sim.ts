// A simulated device flashed without a Wi-Fi network: `npm run simulate` with one device that
// answers Improv on one end of a socat pty pair (the other end is for the test), whose radio can
// join only the access point "lab" with passphrase "lab-passphrase". Resolves once the device has
// stopped for want of a network.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { exited, startPtyPair, type PtyPair } from '../emulator/pty-pair';
import type { TestBroker } from './broker';
import { enrollmentToken } from './sim';
import { waitUntil } from './wait';

export const LAB = { ssid: 'lab', psk: 'lab-passphrase' };

export interface ImprovSim {
  /** The test's end of the pty: the device's console UART. */
  port: string;
  output(): string;
  stop(): Promise<void>;
}

const root = join(import.meta.dirname, '..', '..');

export async function startImprovSim(tb: TestBroker, dir: string, machinesPrefix: string): Promise<ImprovSim> {
  const pair: PtyPair = await startPtyPair(dir);
  const token = await enrollmentToken(tb, 1);
  const args = [
    '--devices',
    '1',
    '--broker',
    tb.broker.mqttUrl,
    '--enroll-token',
    token,
    '--machines-prefix',
    machinesPrefix,
    '--improv-serial',
    pair.b,
    '--access-point',
    `${LAB.ssid}:${LAB.psk}`,
    '--log-level',
    'info',
  ];
  const sim = spawn(process.execPath, ['--import', 'tsx', 'host-tools/simulate/cli.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sim.stdout.on('data', (d) => (out += d));
  sim.stderr.on('data', (d) => (out += d));
  const stop = async (): Promise<void> => {
    sim.kill('SIGTERM');
    await exited(sim);
    await pair.stop();
  };
  try {
    await waitUntil(() => out.includes('not provisioned'), 60_000, 'the simulated device to stop for want of Wi-Fi');
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}; it printed:\n${out}`);
  }
  return { port: pair.a, output: () => out, stop };
}
