// A broker with agents and scripted devices for the browser tests, and the label URL path of
// each machine (the part a phone's camera app opens on this broker).
import type { Browser, Page } from 'playwright-core';
import type { BrokerOptions } from '../../broker/config';
import * as assert from 'uvu/assert';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { JobDevice } from '../helpers/job-device';
import { requireTool } from '../helpers/tools';
import { launch } from './browser';
import { ensureWebBuilt } from './web-build';

export interface Machine {
  code: string;
  device: JobDevice;
  labelPath: string;
  labelUrl: string;
}

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

/**
 * What most browser tests set up first: a built web app, a broker, one agent, one scripted machine
 * and Chromium. `start` fills it in step by step, so `stop` (in the suite's after hook) closes
 * whatever got opened even when a step failed.
 */
export class WebRig {
  tb: TestBroker | null = null;
  browser: Browser | null = null;
  readonly machines: Machine[] = [];

  async start(o: {
    agent: string;
    code: string;
    broker?: Partial<BrokerOptions>;
  }): Promise<{ tb: TestBroker; browser: Browser; base: string; agent: { id: string; password: string }; m: Machine }> {
    requireTool('chromium', 'chromium');
    await ensureWebBuilt();
    const tb = (this.tb = await TestBroker.start(o.broker));
    const agent = await tb.createAgent(o.agent);
    const m = await machine(tb, o.code);
    this.machines.push(m);
    const browser = (this.browser = await launch());
    return { tb, browser, base: tb.broker.httpUrl, agent, m };
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    for (const m of this.machines) await m.device.close();
    await this.tb?.stop();
  }
}

/** Presses Claim on a machine's claim screen and waits for the machine's own page. */
export async function pressClaim(page: Page, base: string, m: Machine): Promise<void> {
  await page.getByRole('button', { name: 'Claim' }).click();
  await page.waitForURL(`${base}/devices/${m.device.id}`);
}

/** An agent claims a machine over MQTT, as another person's phone would, and must succeed. */
export async function claimOverMqtt(tb: TestBroker, agent: { id: string; password: string }, target: string): Promise<void> {
  const client = await connectAgent(tb.broker.wsUrl, agent.id, await tb.login(agent.id, agent.password));
  try {
    const r = await request(client, { kind: 'agent', id: agent.id }, { op: 'claim', target });
    assert.ok(r.ok, JSON.stringify(r));
  } finally {
    await end(client);
  }
}
