// Webhooks against a local receiver: every event type arrives signed, failures retry with backoff
// and show in the delivery history, a long-failing endpoint is disabled with an audit row, a
// redelivery goes out again, and private targets are refused unless allowed.
import { generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rawPublicKey } from '../../host-tools/release/keys';
import { ErrorCode } from '../../protocol/errors';
import { adminAlertsTopic, deviceTopic } from '../../protocol/topics';
import { WEBHOOK_EVENTS } from '../../protocol/webhooks';
import { TestBroker, connectAdmin, request } from '../helpers/broker';
import { expectRestError } from '../helpers/errors';
import { boundDevice, identify, jobIn, submitOk, uniq } from '../helpers/jobs';
import { end, publish, subscribe, waitFor } from '../helpers/mqtt';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import { waitUntil } from '../helpers/wait';
import { WebhookReceiver, verifyFleetbindSignature } from '../helpers/webhook-receiver';
import { uploadRelease } from '../helpers/releases';

const SECRET = 'whsec-test-0123456789abcdef';
const releaseKey = generateKeyPairSync('ed25519');
let tb: TestBroker;
let rx: WebhookReceiver;

async function register(b: TestBroker, url: string, events: readonly string[] = WEBHOOK_EVENTS, secret: string | undefined = SECRET): Promise<string> {
  const r = await b.api('POST', '/api/webhooks', { url, events, ...(secret ? { secret } : {}) });
  assert.is(r.status, 201, JSON.stringify(r.body));
  assert.is(r.body.secret, undefined, 'a given secret is never echoed');
  return r.body.id as string;
}

/** A rollout targets only devices that take updates: they announce `ota`, as the firmware does. */
const UPDATABLE = ['qr.show', 'identify', 'serial.send', 'ota'];

/** A rollout of a signed release for the test board, to one device that has not installed it yet. */
async function rolloutFor(device: string): Promise<string> {
  await uploadRelease(tb.broker.httpUrl, tb.adminToken, releaseKey.privateKey, { version: '1.0.1', models: ['test-board'], image: Buffer.alloc(4096, 7) });
  const r = await tb.api('POST', '/api/rollouts', { release: '1.0.1', target: { devices: [device] }, waves: [100], waveSoakMinutes: 0, maxFailurePercent: 50 });
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body.id as string;
}

const hooks = suite('webhooks');
hooks.before(async () => {
  rx = await WebhookReceiver.start();
  tb = await TestBroker.start({
    webhooks: { allowPrivate: true, backoffMs: 50, retryForMs: 3600_000, disableAfterMs: 3600_000, timeoutMs: 2_000 },
    releasePublicKeys: [rawPublicKey(releaseKey.publicKey).toString('base64')],
  });
});
hooks.after(async () => {
  await tb.stop();
  await rx.close();
});

hooks('every event type arrives with a signature that verifies', async () => {
  const id = await register(tb, rx.url);
  const w = await boundDevice(tb, { caps: UPDATABLE });
  const job = await submitOk(w.agent, identify(w.device.id));
  await jobIn(tb, job, ['done']);
  const has = (type: string, match: (d: any) => boolean) => rx.accepted().find((r) => r.json.type === type && match(r.json.data));
  // An alert is raised and cleared by the machine's own state reports.
  const ink = (level: number) =>
    publish(w.device.client, deviceTopic(w.device.id, 'state'), { machine: { status: 'idle' }, consumables: { 'ink.k': { level, unit: '%' } } });
  await ink(5);
  await waitUntil(() => has('alert.raised', (d) => d.device === w.device.id), 10_000, 'alert.raised');
  await ink(100);
  await waitUntil(() => has('alert.cleared', (d) => d.device === w.device.id), 10_000, 'alert.cleared');
  const raised = has('alert.raised', (d) => d.device === w.device.id)!.json.data;
  assert.equal([raised.kind, raised.subject, raised.state, raised.agent], ['consumable-low', 'ink.k', 'open', w.agent.id]);
  const cleared = has('alert.cleared', (d) => d.device === w.device.id)!.json.data;
  assert.equal([cleared.id, cleared.state, typeof cleared.clearedAt], [raised.id, 'cleared', 'number']);
  const rel = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'release', device: w.device.id });
  assert.is(rel.ok, true, JSON.stringify(rel));
  await waitUntil(
    () =>
      has('binding.changed', (d) => d.device === w.device.id && d.action === 'release') &&
      has('job.state', (d) => d.job === job && d.state === 'done') &&
      has('device.presence', (d) => d.device === w.device.id && d.state === 'online'),
    10_000,
    'claim, release, job and presence events',
  );
  // A rollout's life: created (running), paused by an admin, cancelled. The device is offline, so
  // nothing is sent to it and the failure check cannot pause it first.
  await w.device.close();
  const rollout = await rolloutFor(w.device.id);
  assert.is((await tb.api('POST', `/api/rollouts/${rollout}/pause`, { reason: 'check the build' })).status, 200);
  assert.is((await tb.api('POST', `/api/rollouts/${rollout}/cancel`, { reason: 'bad build' })).status, 200);
  await waitUntil(() => has('rollout.state', (d) => d.rollout === rollout && d.state === 'cancelled'), 10_000, 'rollout.state cancelled');
  const rollouts = rx
    .accepted()
    .filter((r) => r.json.type === 'rollout.state' && r.json.data.rollout === rollout)
    .map((r) => [r.json.data.state, r.json.data.reason, r.json.data.release]);
  assert.equal(rollouts, [
    ['running', null, '1.0.1'],
    ['paused', 'check the build', '1.0.1'],
    ['cancelled', 'bad build', '1.0.1'],
  ]);
  const seen = new Set(rx.accepted().map((r) => r.json.type));
  for (const type of WEBHOOK_EVENTS) assert.ok(seen.has(type), `${type} delivered`);

  const claim = has('binding.changed', (d) => d.device === w.device.id && d.action === 'claim')!;
  assert.equal(claim.json.data, {
    device: w.device.id,
    action: 'claim',
    from: null,
    to: w.agent.id,
    via: 'device-id',
    actor: `agent:${w.agent.id}`,
    version: claim.json.data.version,
  });
  const states = rx
    .accepted()
    .filter((r) => r.json.type === 'job.state' && r.json.data.job === job)
    .map((r) => r.json.data.state);
  for (const s of ['queued', 'dispatched', 'running', 'done']) assert.ok(states.includes(s), `job.state ${s} delivered (got ${states.join(',')})`);
  for (const r of rx.accepted()) {
    assert.ok(verifyFleetbindSignature(SECRET, r.body, String(r.headers['fleetbind-signature'])), `signature of ${r.json.type} verifies`);
    assert.not.ok(verifyFleetbindSignature('another-secret-000000', r.body, String(r.headers['fleetbind-signature'])), 'and fails under another secret');
    assert.is(r.headers['fleetbind-event-id'], r.json.id);
    assert.is(r.headers['fleetbind-event-type'], r.json.type);
    assert.ok(!Number.isNaN(Date.parse(r.json.time)), 'time is ISO 8601');
  }
  const ids = rx.accepted().map((r) => r.json.id);
  assert.is(new Set(ids).size, ids.length, 'a healthy receiver gets each event once');
  await end(w.agent.client);
  await tb.api('DELETE', `/api/webhooks/${id}`);
});

hooks('a pool lease and its end are binding.changed; a held payment QR paid is job.state done', async () => {
  const id = await register(tb, rx.url, ['binding.changed', 'job.state']);
  const has = (type: string, match: (d: any) => boolean) => rx.accepted().find((r) => r.json.type === type && match(r.json.data));
  const loc = await makeLocation(tb);
  const pooled = await poolDevice(tb, loc);
  const lessee = await tb.agent(uniq('lessee'));
  await joinLocation(tb, lessee.id, [loc]);
  const leased = await poolSubmit(lessee, loc);
  assert.ok(leased.ok, JSON.stringify(leased));
  await jobIn(tb, leased.result.job, ['done']);
  await waitUntil(() => has('binding.changed', (d) => d.device === pooled.id && d.action === 'lease-end'), 10_000, 'the lease end delivered');
  const lease = has('binding.changed', (d) => d.device === pooled.id && d.action === 'lease')!.json.data;
  const leaseEnd = has('binding.changed', (d) => d.device === pooled.id && d.action === 'lease-end')!.json.data;
  assert.equal([lease.from, lease.to], [null, lessee.id]);
  assert.equal([leaseEnd.from, leaseEnd.to, leaseEnd.version], [lessee.id, null, lease.version + 1]);

  const w = await boundDevice(tb, { mode: 'hold', caps: UPDATABLE });
  const qr = await submitOk(w.agent, { device: w.device.id, kind: 'qr.show', params: { text: 'https://pay.example/webhook', caption: 'Pay', hold: true } });
  await jobIn(tb, qr, ['running']);
  assert.is((await tb.api('POST', `/api/jobs/${qr}/complete`, undefined, w.agent.token)).status, 200);
  await waitUntil(() => has('job.state', (d) => d.job === qr && d.state === 'done'), 10_000, 'the paid QR done delivered');
  const paid = has('job.state', (d) => d.job === qr && d.state === 'done')!.json.data;
  assert.equal([paid.device, paid.agent, paid.kind], [w.device.id, w.agent.id, 'qr.show']);
  const states = rx
    .accepted()
    .filter((r) => r.json.type === 'job.state' && r.json.data.job === qr)
    .map((r) => r.json.data.state);
  assert.ok(states.indexOf('running') < states.indexOf('done'), `running before done (got ${states.join(',')})`);
  for (const r of rx.accepted()) assert.ok(verifyFleetbindSignature(SECRET, r.body, String(r.headers['fleetbind-signature'])));
  await pooled.close();
  await w.device.close();
  await end(w.agent.client, lessee.client);
  await tb.api('DELETE', `/api/webhooks/${id}`);
});

hooks('a receiver that answers 500 twice gets the event on the third try; the history shows each attempt', async () => {
  rx.respond = (_eventId, previous) => (previous < 2 ? 500 : 200);
  const id = await register(tb, rx.url, ['binding.changed']);
  const agent = await tb.createAgent('retry-agent');
  const dev = await tb.provision();
  const moved = await tb.api('POST', `/api/devices/${dev.id}/transfer`, { agent: agent.id, reason: 'webhook retry test' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  const got = await waitUntil(() => rx.accepted().find((r) => r.json.data.device === dev.id), 10_000, 'the third try');
  const tries = rx.received.filter((r) => r.json.id === got.json.id).map((r) => [r.status, r.headers['fleetbind-attempt']]);
  assert.equal(tries, [
    [500, '1'],
    [500, '2'],
    [200, '3'],
  ]);
  // The outcome is recorded after the receiver's answer arrives, in the next group commit.
  const d = await waitUntil(
    async () => {
      const h = await tb.api('GET', `/api/webhooks/${id}/deliveries`);
      assert.is(h.status, 200, JSON.stringify(h.body));
      const x = h.body.find((x: any) => x.event === got.json.id);
      return x?.state === 'delivered' && x;
    },
    10_000,
    'the delivery recorded as delivered',
  );
  assert.equal(
    d.attempts.map((a: any) => a.status),
    [500, 500, 200],
  );
  for (const a of d.attempts) assert.ok(Number.isInteger(a.latencyMs) && a.latencyMs >= 0, 'each attempt has its latency');
  assert.ok(d.attempts[2].at - d.attempts[1].at >= 50, 'the second retry waited longer than the base backoff');

  const again = await tb.api('POST', `/api/webhooks/${id}/deliveries/${d.seq}/redeliver`);
  assert.is(again.status, 202, JSON.stringify(again.body));
  await waitUntil(() => rx.accepted().filter((r) => r.json.id === got.json.id).length === 2, 10_000, 'the redelivery');
  rx.respond = () => 200;
  await tb.api('DELETE', `/api/webhooks/${id}`);
});

hooks('an endpoint failing longer than --webhooks-disable-after-ms is disabled, with an audit row and an admin alert', async () => {
  const b = await TestBroker.start({ webhooks: { allowPrivate: true, backoffMs: 20, retryForMs: 3600_000, disableAfterMs: 300, timeoutMs: 2_000 } });
  const admin = await connectAdmin(b.broker.mqttUrl, b.adminToken);
  try {
    await subscribe(admin, [adminAlertsTopic]);
    const alerted = waitFor<any>(admin, (topic, j: any) => topic === adminAlertsTopic && j.event === 'webhook', 10_000, 'the admin alert');
    const down = await WebhookReceiver.start();
    down.respond = () => 503;
    const id = await register(b, down.url, ['binding.changed']);
    const agent = await b.createAgent('flaky-agent');
    const dev = await b.provision();
    await b.api('POST', `/api/devices/${dev.id}/transfer`, { agent: agent.id, reason: 'disable test' });
    const hook = await waitUntil(
      async () => ((await b.api('GET', `/api/webhooks/${id}`)).body.enabled === false ? (await b.api('GET', `/api/webhooks/${id}`)).body : undefined),
      10_000,
      'the endpoint to be disabled',
    );
    assert.match(hook.disabledReason, /failed for/);
    const audit = await b.api('GET', '/api/audit?limit=50');
    assert.ok(
      audit.body.some((a: any) => a.action === 'webhook.disabled' && a.detail.webhook === id),
      'audited',
    );
    const alert = (await alerted).json;
    assert.equal([alert.kind, alert.webhook, alert.url], ['webhook-disabled', id, down.url]);
    assert.match(alert.message, /disabled: every delivery failed for/);
    const redo = await b.api('POST', `/api/webhooks/${id}/deliveries/1/redeliver`);
    expectRestError(redo, 409, ErrorCode.CONFLICT);
    await down.close();
  } finally {
    await end(admin);
    await b.stop();
  }
});

hooks('a delivery still failing after --webhooks-retry-for-ms is given up: failed, and no attempt after that', async () => {
  const b = await TestBroker.start({ webhooks: { allowPrivate: true, backoffMs: 20, retryForMs: 400, disableAfterMs: 3600_000, timeoutMs: 2_000 } });
  const down = await WebhookReceiver.start();
  try {
    down.respond = () => 500;
    const id = await register(b, down.url, ['binding.changed']);
    const agent = await b.createAgent('given-up-agent');
    const dev = await b.provision();
    assert.is((await b.api('POST', `/api/devices/${dev.id}/transfer`, { agent: agent.id, reason: 'give-up test' })).status, 200);
    const failed = await waitUntil(
      async () => (await b.api('GET', `/api/webhooks/${id}/deliveries`)).body.find((d: any) => d.state === 'failed'),
      10_000,
      'the delivery to be given up',
    );
    assert.ok(failed.attempts.length >= 2, `retried before giving up (${failed.attempts.length} attempts)`);
    const tries = down.received.length;
    await new Promise((r) => setTimeout(r, 1_000));
    assert.is(down.received.length, tries, 'no attempt after it was given up');
    assert.is((await b.api('GET', `/api/webhooks/${id}`)).body.enabled, true, 'giving up a delivery does not disable the endpoint');
  } finally {
    await down.close();
    await b.stop();
  }
});

hooks('bad registrations are refused naming the field', async () => {
  expectRestError(
    await tb.api('POST', '/api/webhooks', { url: 'ftp://example.com/x', events: ['job.state'], secret: SECRET }),
    400,
    ErrorCode.BAD_REQUEST,
    'url',
  );
  expectRestError(await tb.api('POST', '/api/webhooks', { url: rx.url, events: ['device.created'], secret: SECRET }), 400, ErrorCode.BAD_REQUEST, 'events');
  expectRestError(await tb.api('POST', '/api/webhooks', { url: rx.url, events: [], secret: SECRET }), 400, ErrorCode.BAD_REQUEST, 'events');
  expectRestError(await tb.api('POST', '/api/webhooks', { url: rx.url, events: ['job.state'], secret: 'short' }), 400, ErrorCode.BAD_REQUEST, 'secret');
  const generated = await tb.api('POST', '/api/webhooks', { url: rx.url, events: ['job.state'] });
  assert.is(generated.status, 201);
  assert.ok(typeof generated.body.secret === 'string' && generated.body.secret.length >= 32, 'a generated secret is shown once');
  const listed = await tb.api('GET', '/api/webhooks');
  assert.not.match(JSON.stringify(listed.body), generated.body.secret, 'and never again');
  await tb.api('DELETE', `/api/webhooks/${generated.body.id}`);
  const agentToken = (await tb.agent('not-an-admin')).token;
  expectRestError(await tb.api('GET', '/api/webhooks', undefined, agentToken), 403, ErrorCode.FORBIDDEN);
});

hooks.run();

const guard = suite('webhook targets without --webhooks-allow-private');
let strict: TestBroker;
guard.before(async () => {
  strict = await TestBroker.start();
});
guard.after(async () => {
  await strict.stop();
});

guard('loopback, private, link-local and names resolving to them are refused; public addresses are accepted', async () => {
  for (const url of [
    'http://127.0.0.1:8080/x',
    'http://localhost/x',
    'http://10.1.2.3/x',
    'http://172.16.0.1/x',
    'http://192.168.1.1/x',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/x',
    'http://[fe80::1]/x',
    'http://[::ffff:127.0.0.1]/x',
    'http://0.0.0.0/x',
  ]) {
    const r = await strict.api('POST', '/api/webhooks', { url, events: ['job.state'], secret: SECRET });
    expectRestError(r, 400, ErrorCode.BAD_REQUEST, 'url');
    assert.match(r.body.error.message, /private|does not resolve/, url);
  }
  const ok = await strict.api('POST', '/api/webhooks', { url: 'https://93.184.216.34/hooks', events: ['job.state'], secret: SECRET });
  assert.is(ok.status, 201, JSON.stringify(ok.body));
  assert.is((await strict.api('GET', '/api/webhooks')).body.length, 1, 'only the public endpoint was stored');
});

guard.run();
