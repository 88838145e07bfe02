// A broker with agents and scripted devices for the browser tests, and the label URL path of
// each machine (the part a phone's camera app opens on this broker).
import type { TestBroker } from '../helpers/broker';
import { JobDevice } from '../helpers/job-device';

export interface Machine { code: string; device: JobDevice; labelPath: string; labelUrl: string }

export async function machine(tb: TestBroker, code: string): Promise<Machine> {
  const dev = await tb.provision(undefined, code);
  // 'hold': the device accepts each job and then waits, so the test decides when it progresses and ends.
  const device = await JobDevice.connect(tb.broker.mqttUrl, dev, { mode: 'hold' });
  const r = await tb.api('GET', `/api/labels/${code}`);
  if (r.status !== 200) throw new Error(`label for ${code}: ${r.status} ${JSON.stringify(r.body)}`);
  return { code, device, labelPath: new URL(r.body.url).pathname, labelUrl: r.body.url };
}

/** The job id in a job page's URL (/devices/<dev>/jobs/<job>). */
export function jobIdOf(url: string): string {
  const m = /\/jobs\/([^/?#]+)/.exec(new URL(url).pathname);
  if (!m) throw new Error(`not a job page: ${url}`);
  return decodeURIComponent(m[1]!);
}
