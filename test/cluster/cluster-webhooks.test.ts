// Webhooks in a two-node cluster: 1,000 binding changes made through both nodes reach a healthy
// receiver exactly once each. Both nodes deliver (FOR UPDATE SKIP LOCKED hands each delivery to
// one of them); the attempts counted on the two nodes add up to the events, so none went twice.
import * as assert from 'uvu/assert';
import { clusterSuite } from '../helpers/cluster';
import { metric } from '../helpers/metrics';
import { waitUntil } from '../helpers/wait';
import { WebhookReceiver, verifyFleetbindSignature } from '../helpers/webhook-receiver';

const SECRET = 'whsec-cluster-0123456789abcdef';
const DEVICES = 10;
const ROUNDS = 100;

// The receiver is healthy but shares a loaded machine: a 5 s POST timeout made a slow answer a
// failure, and its retry a second delivery the receiver rightly counted.
const { t, on } = clusterSuite('webhooks on a two-node cluster', {
  webhooks: { allowPrivate: true, backoffMs: 50, retryForMs: 3600_000, disableAfterMs: 3600_000, timeoutMs: 30_000 },
});

on('1,000 events made on both nodes are each delivered exactly once', async (cluster) => {
  const rx = await WebhookReceiver.start();
  try {
    const reg = await cluster.members[0]!.api('POST', '/api/webhooks', { url: rx.url, events: ['binding.changed'], secret: SECRET });
    assert.is(reg.status, 201, JSON.stringify(reg.body));
    const agents = [(await cluster.createAgent('hook-a')).id, (await cluster.createAgent('hook-b')).id];
    const devices: string[] = [];
    for (let i = 0; i < DEVICES; i++) devices.push((await cluster.provision()).id);
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        devices.map(async (device, i) => {
          const node = cluster.members[(round + i) % 2]!;
          let r = await node.api('POST', `/api/devices/${device}/transfer`, { agent: agents[round % 2], reason: `round ${round}` });
          // A loaded machine can make a node's health probe miss PostgreSQL for a moment; the node
          // then refuses with 503 and changes nothing, and the client tries again as told.
          for (let tries = 0; r.status === 503 && tries < 20; tries++) {
            await new Promise((ok) => setTimeout(ok, 250));
            r = await node.api('POST', `/api/devices/${device}/transfer`, { agent: agents[round % 2], reason: `round ${round}` });
          }
          if (r.status !== 200) throw new Error(`transfer ${round} of ${device} on node ${(round + i) % 2}: ${r.status} ${JSON.stringify(r.body)}`);
        }),
      );
    }
    const total = DEVICES * ROUNDS;
    await waitUntil(() => rx.accepted().length >= total, 120_000, `${total} deliveries`);
    // Barrier: both nodes have nothing left pending or in flight before duplicates are counted.
    await waitUntil(
      async () => {
        const depth = await Promise.all(
          cluster.members.map(async (m) => metric(await (await fetch(`${m.broker.httpUrl}/metrics`)).text(), 'fleetbind_webhook_outbox_depth')),
        );
        return depth.every((d) => d === 0);
      },
      30_000,
      'an empty outbox',
    );
    const ids = rx.accepted().map((r) => r.json.id as string);
    assert.is(ids.length, total, 'no event delivered twice');
    assert.is(new Set(ids).size, total, 'every event delivered');
    const perDevice = new Map<string, number[]>();
    for (const r of rx.accepted()) perDevice.set(r.json.data.device, [...(perDevice.get(r.json.data.device) ?? []), r.json.data.version]);
    for (const d of devices)
      assert.equal(
        [...perDevice.get(d)!].sort((a, b) => a - b),
        Array.from({ length: ROUNDS }, (_, i) => i + 1),
        `${d}: every binding version once`,
      );
    for (const r of rx.accepted().slice(0, 50)) assert.ok(verifyFleetbindSignature(SECRET, r.body, String(r.headers['fleetbind-signature'])));
    const attempts = await Promise.all(
      cluster.members.map(async (m) =>
        metric(await (await fetch(`${m.broker.httpUrl}/metrics`)).text(), 'fleetbind_webhook_attempts_total', { outcome: 'delivered' }),
      ),
    );
    console.log(`\n# deliveries by node: ${attempts.join(' + ')}`);
    assert.is(attempts[0]! + attempts[1]!, total, 'the nodes attempted each delivery once between them');
  } finally {
    await rx.close();
  }
});

t.run();
