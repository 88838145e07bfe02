// The outbox survives a crash: the broker is SIGKILLed after a binding change committed and while
// its webhook delivery is still unanswered; after a restart on the same data dir the event is
// delivered, with the same id.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BrokerProcess } from '../helpers/broker-process';
import { randomMac } from '../helpers/broker';
import { waitUntil } from '../helpers/wait';
import { WebhookReceiver, verifyFleetbindSignature } from '../helpers/webhook-receiver';

const SECRET = 'whsec-durability-0123456789';
const FLAGS = ['--webhooks-allow-private', '--webhooks-backoff-ms', '50'];

test('SIGKILL between a change commit and its delivery: the event is delivered after restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-webhooks-'));
  const adminToken = randomBytes(24).toString('hex');
  const rx = await WebhookReceiver.start();
  rx.respond = () => 'hang';
  let broker = await BrokerProcess.start(dataDir, adminToken, FLAGS);
  try {
    assert.is((await broker.api('POST', '/api/webhooks', { url: rx.url, events: ['binding.changed'], secret: SECRET })).status, 201);
    assert.is((await broker.api('POST', '/api/agents', { id: 263, name: 'test vk', password: 'password-263' })).status, 201);
    const dev = await broker.api('POST', '/api/devices', { mac: randomMac() });
    const moved = await broker.api('POST', `/api/devices/${dev.body.id}/transfer`, { agent: '263', reason: 'crash test' });
    assert.is(moved.status, 200, 'the transfer committed');
    const inFlight = await waitUntil(() => rx.hung.find((b) => JSON.parse(b).data.device === dev.body.id), 10_000, 'the delivery to reach the receiver');
    const exit = await broker.stop('SIGKILL');
    assert.is(exit.signal, 'SIGKILL');
    assert.is(rx.accepted().length, 0, 'nothing was acknowledged before the crash');

    rx.respond = () => 200;
    broker = await BrokerProcess.start(dataDir, adminToken, FLAGS);
    const got = await waitUntil(() => rx.accepted().find((r) => r.json.data.device === dev.body.id), 15_000, 'delivery after the restart');
    assert.is(got.json.id, JSON.parse(inFlight).id, 'the same event, by id');
    assert.equal(got.json.data, { device: dev.body.id, action: 'transfer', from: null, to: '263', via: 'transfer', actor: 'admin:token', version: 1 });
    assert.ok(verifyFleetbindSignature(SECRET, got.body, String(got.headers['fleetbind-signature'])));
    assert.not.match(broker.stdout + broker.stderr, SECRET, 'the secret never appears in the log');
  } finally {
    await broker.kill();
    await rx.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
