// Two agents in two browser contexts, each with their own machine: sign in, claim by opening the
// label URL, run a payment QR job and watch position, ETA, progress and done arrive live.
// Neither page ever holds the other's machine, job or data: not in the DOM and not in any
// WebSocket frame it received.
import { readFileSync } from 'node:fs';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';
import { type AppPage, PHONE, framesContain, launch, openApp, shot, signIn, waitAttr, waitText } from './browser';
import { type Machine, jobIdOf, machine } from './fixtures';
import { ensureWebBuilt } from './web-build';

const test = suite('web: two agents, two machines');
let tb: TestBroker | null = null;
let browser: Browser | null = null;

test.after(async () => {
  await browser?.close();
  await tb?.stop();
});

interface Side {
  id: string;
  password: string;
  m: Machine;
  app: AppPage;
  jobs: string[];
  reference: string;
}

async function claimByLabel(side: Side, base: string, screenshots: boolean): Promise<void> {
  const { page } = side.app;
  await page.waitForURL('**/login');
  if (screenshots) await shot(page, 'login');
  await signIn(page, side.id, side.password);
  // Signing in returns to the label URL the phone opened.
  await page.waitForURL(`**${side.m.labelPath}`);
  await waitText(page.getByTestId('machine-code'), side.m.code);
  await waitText(page.getByTestId('machine-model'), 'test-board');
  if (screenshots) await shot(page, 'claim');
  await page.getByRole('button', { name: 'Claim' }).click();
  await page.waitForURL(`${base}/devices/${side.m.device.id}`);
  await waitAttr(page.getByTestId('presence'), 'data-state', 'online');
  if (screenshots) await shot(page, 'device');
}

async function submitPayment(side: Side, base: string): Promise<string> {
  const { page } = side.app;
  await page.getByLabel('Amount').fill('12.50');
  await page.getByLabel('Reference').fill(side.reference);
  await page.getByRole('img', { name: /Preview of the payment QR/ }).waitFor();
  await page.getByRole('button', { name: 'Show payment QR' }).click();
  await page.waitForURL(`${base}/devices/${side.m.device.id}/jobs/*`);
  return jobIdOf(page.url());
}

const sides: Side[] = [];

test('each agent claims by label, runs a payment QR live, and sees nothing of the other', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  const base = tb.broker.httpUrl;
  browser = await launch();
  for (const [id, code, reference] of [
    ['263', 'CT0700026', 'ORDER-AAA-1'],
    ['bea', 'CT0700027', 'ORDER-BBB-1'],
  ] as const) {
    const a = await tb.createAgent(id);
    const m = await machine(tb, code);
    sides.push({ id: a.id, password: a.password, m, app: await openApp(browser, base + m.labelPath), jobs: [], reference });
  }
  const [A, B] = sides as [Side, Side];

  await claimByLabel(A, base, true);
  await claimByLabel(B, base, false);

  for (const side of [A, B]) {
    const { page } = side.app;
    // An identify job first, so the payment QR waits behind it and its position can move.
    await page.getByRole('radio', { name: 'Identify' }).check();
    await page.getByRole('button', { name: 'Identify' }).click();
    await page.waitForURL(`${base}/devices/${side.m.device.id}/jobs/*`);
    side.jobs.push(jobIdOf(page.url()));
    await waitText(page.getByTestId('job-position'), 'On the machine now');
    await page.getByRole('link', { name: /Back to the machine/ }).click();
    await page.getByRole('radio', { name: 'Payment QR' }).check();
    side.jobs.push(await submitPayment(side, base));
    await waitText(page.getByTestId('job-position'), 'Next in line');
    await waitText(page.getByTestId('job-eta'), /about \d+ (s|min)/);
  }

  for (const side of [A, B]) {
    const { page } = side.app;
    const [identify, payment] = side.jobs as [string, string];
    await waitUntil(() => side.m.device.runs.includes(identify), 5000, 'the device to run the identify job');
    await side.m.device.ack({ job: identify, state: 'done' });
    // The payment QR moves up and goes to the machine, live.
    await waitText(page.getByTestId('job-position'), 'On the machine now');
    await waitAttr(page.getByTestId('job-state'), 'data-state', 'running');
    await waitUntil(() => side.m.device.runs.includes(payment), 5000, 'the device to run the payment job');
    await side.m.device.ack({ job: payment, state: 'progress', progress: 40 });
    await waitAttr(page.getByTestId('job-progress'), 'value', '40');
    if (side === A) await shot(page, 'job');
    await side.m.device.ack({ job: payment, state: 'done', result: { shown: true } });
    await waitAttr(page.getByTestId('job-state'), 'data-state', 'done');
    await waitText(page.getByTestId('job-timeline'), 'Done');
    const timeline = await page
      .getByTestId('job-timeline')
      .locator('li')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    assert.equal(timeline.slice(0, 1), ['queued']);
    assert.equal(timeline.at(-1), 'done');
    assert.ok(timeline.includes('running'), `timeline ${timeline.join(',')}`);
  }

  // Each page's own traffic is there, so the inspection below means something.
  for (const side of [A, B]) {
    assert.ok(framesContain(side.app.frames, side.m.device.id), `${side.id} received frames about its own device`);
    assert.ok(framesContain(side.app.frames, side.jobs[1]!), `${side.id} received frames about its own job`);
  }
  for (const [me, other] of [
    [A, B],
    [B, A],
  ] as const) {
    await me.app.page.goto(`${base}/devices`);
    await waitText(me.app.page.getByTestId('device-card'), me.m.code);
    const html = await me.app.page.content();
    for (const secret of [other.m.device.id, other.m.code, other.reference, ...other.jobs]) {
      assert.not.ok(html.includes(secret), `${me.id}'s page shows ${secret} of ${other.id}`);
      assert.not.ok(framesContain(me.app.frames, secret), `${me.id}'s WebSocket received ${secret} of ${other.id}`);
    }
    assert.equal(me.app.errors, [], `${me.id}'s page logged errors`);
  }
});

test('job history exports CSV and JSON; the agent screens fit 360 px', async () => {
  requireTool('chromium', 'chromium');
  const base = tb!.broker.httpUrl;
  const { page } = sides[0]!.app;
  const [, payment] = sides[0]!.jobs as [string, string];
  await page.goto(`${base}/history?device=${sides[0]!.m.device.id}`);
  const item = page
    .getByTestId('history')
    .locator('li')
    .filter({ has: page.getByRole('link', { name: 'Payment QR' }) });
  await item.waitFor();
  const [csv] = await Promise.all([page.waitForEvent('download'), item.getByRole('button', { name: `Export job ${payment} as CSV` }).click()]);
  assert.is(csv.suggestedFilename(), `job-${payment}.csv`);
  const csvText = readFileSync((await csv.path())!, 'utf8');
  assert.ok(csvText.startsWith('record,at,time,name,encoding,value'), csvText.slice(0, 80));
  assert.ok(csvText.includes(payment));
  const [json] = await Promise.all([page.waitForEvent('download'), item.getByRole('button', { name: `Export job ${payment} as JSON` }).click()]);
  const exported = JSON.parse(readFileSync((await json.path())!, 'utf8')) as { job: { job: string; state: string; params: { caption: string } } };
  assert.is(exported.job.job, payment);
  assert.is(exported.job.state, 'done');
  assert.is(exported.job.params.caption, sides[0]!.reference);
  await shot(page, 'history');

  await page.setViewportSize({ width: 360, height: 740 });
  const device = sides[0]!.m.device.id;
  for (const path of ['/devices', `/devices/${device}`, `/devices/${device}/jobs/${payment}`, '/history', '/orders', '/scan']) {
    await page.goto(base + path);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(width <= 360, `${path} is ${width} px wide at a 360 px viewport`);
  }
});

test('a held payment QR reserves the machine until the agent confirms payment', async () => {
  requireTool('chromium', 'chromium');
  const base = tb!.broker.httpUrl;
  const side = sides[0]!;
  const { page } = side.app;
  await page.setViewportSize(PHONE);
  await page.goto(`${base}/devices/${side.m.device.id}`);
  await page.getByLabel('Amount').fill('99');
  await page.getByLabel('Reference').fill('HELD-1');
  await page.getByLabel('Keep this machine reserved until the payment is confirmed').check();
  await page.getByRole('button', { name: 'Show payment QR' }).click();
  await page.waitForURL(`${base}/devices/${side.m.device.id}/jobs/*`);
  const held = jobIdOf(page.url());
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'running');

  await page.getByRole('link', { name: /Back to the machine/ }).click();
  await page.getByRole('button', { name: 'Release' }).click();
  await page.getByRole('button', { name: `Yes, release ${side.m.code}` }).click();
  await waitText(page.getByRole('alert'), /^This machine is reserved by a job that is still running/);
  assert.is((await tb!.api('GET', `/api/devices/${side.m.device.id}`)).body.agent, side.id, 'still bound');

  await page.goto(`${base}/devices/${side.m.device.id}/jobs/${held}`);
  await page.getByRole('button', { name: 'Payment received' }).click();
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'done');
  await page.getByRole('link', { name: /Back to the machine/ }).click();
  await page.getByRole('button', { name: 'Release' }).click();
  await page.getByRole('button', { name: `Yes, release ${side.m.code}` }).click();
  await page.waitForURL(`${base}/devices`);
  await waitText(page.locator('main'), 'You hold no machines');
  assert.is((await tb!.api('GET', `/api/devices/${side.m.device.id}`)).body.agent, null);
  assert.equal(side.app.errors, []);
});

test('serial send shows the machine’s reply; a queued job can be cancelled', async () => {
  requireTool('chromium', 'chromium');
  const base = tb!.broker.httpUrl;
  const side = sides[1]!;
  const { page } = side.app;
  const dev = side.m.device;
  await page.goto(`${base}/devices/${dev.id}`);
  await page.getByRole('radio', { name: 'Serial (advanced)' }).check();
  await page.getByLabel('Data to send').fill('PING');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForURL(`${base}/devices/${dev.id}/jobs/*`);
  const serial = jobIdOf(page.url());
  await waitUntil(() => dev.runs.includes(serial), 5000, 'the serial job to run');
  assert.equal(dev.cmds.find((c) => c.job === serial)?.params, { data: Buffer.from('PING').toString('base64'), timeoutMs: 2000 });
  await dev.ack({ job: serial, state: 'done', result: { data: Buffer.from('PONG\r\n').toString('base64'), bytes: 6 } });
  await waitText(page.getByTestId('serial-reply'), 'PONG');

  // One identify on the machine, one waiting behind it: cancel the waiting one.
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    await page.goto(`${base}/devices/${dev.id}`);
    await page.getByRole('radio', { name: 'Identify' }).check();
    await page.getByRole('button', { name: 'Identify' }).click();
    await page.waitForURL(`${base}/devices/${dev.id}/jobs/*`);
    ids.push(jobIdOf(page.url()));
  }
  await page.getByRole('link', { name: /Back to the machine/ }).click();
  const queued = page.getByTestId('queue').locator(`li[data-job="${ids[1]}"]`);
  await waitText(queued, 'Next in line');
  await queued.getByRole('button', { name: 'Cancel job' }).click();
  await queued.waitFor({ state: 'detached' });
  assert.is((await tb!.api('GET', `/api/jobs/${ids[1]}`)).body.state, 'cancelled');
  await dev.ack({ job: ids[0]!, state: 'done' });
  await waitText(page.getByTestId('queue-empty'), 'No jobs');
  assert.equal(side.app.errors, []);
});

test.run();
