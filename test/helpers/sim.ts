// Simulated fleets of the real firmware core for the integration suites.
import { pino } from 'pino';
import type { CoreOptions } from '../../firmware/core/core-options';
import { SimFleet, type FleetOptions } from '../../host-tools/simulate/fleet';
import type { PrinterOptions } from '../../host-tools/simulate/sim-printer';
import type { ApiResult } from './broker';

interface AdminApi {
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
}

export async function enrollmentToken(b: AdminApi, uses: number): Promise<string> {
  // Simulated devices announce their machine codes (SIM-0001, …), which the token must allow.
  const r = await b.api<{ token: string }>('POST', '/api/enrollment-tokens', { uses, expiresIn: 600, allowMachineCodes: true });
  if (r.status !== 201) throw new Error(`creating an enrollment token failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export interface TestFleetOptions {
  devices: number;
  enrollToken?: string;
  machinesPrefix: string;
  stateDir?: string;
  pngDir?: string;
  core?: Partial<CoreOptions>;
  /** PEM of the broker's CA, for an mqtts:// url. */
  ca?: string;
  printer?: PrinterOptions;
  /** Starts spread evenly over this many ms, so a large fleet does not storm the broker with CONNECTs. */
  rampMs?: number;
  /** Devices take firmware updates (host-tools/simulate/sim-ota.ts). */
  ota?: FleetOptions['ota'];
}

export function startFleet(mqttUrl: string, o: TestFleetOptions): SimFleet {
  const fleet = new SimFleet({ ...o, broker: mqttUrl, log: pino({ level: process.env.FLEETBIND_TEST_LOG ?? 'silent' }) });
  fleet.start();
  return fleet;
}
