// Published ETAs match what happens (docs/architecture.md, Jobs): a steady workload of identify
// jobs, QRs shown for a while and held payment QRs that expire unpaid runs on a simulated device
// (the real firmware core), and every ETA the agent was shown for every job, in every snapshot,
// is compared with when that job really ended.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { JobsSnapshot } from '../../protocol/messages';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker, request } from '../helpers/broker';
import { jobIn, watchJobs } from '../helpers/jobs';
import { end, sleep } from '../helpers/mqtt';
import { enrollmentToken, startFleet } from '../helpers/sim';

/** The share of the real remaining time an ETA may be off by. */
const TOLERANCE = 0.5;
/**
 * Plus this much, for what no estimate can know: the MQTT round trips between the broker's clock
 * and the device's (cmd, accepted, done) and the snapshot's own delivery, each a few ms here.
 */
const LATENCY_MS = 250;

const t = suite('ETA truth');
let b: TestBroker;
let fleet: SimFleet | undefined;

t.before(async () => {
  b = await TestBroker.start();
});
t.after(async () => {
  fleet?.stop();
  await b.stop();
});

const WORKLOAD: Array<{ kind: string; params: Record<string, unknown> }> = [
  { kind: 'identify', params: { seconds: 2 } },
  { kind: 'qr.show', params: { text: 'https://pay.example/h', caption: 'Held', amount: 3, currency: 'EUR', hold: true, expiresInSeconds: 4 } },
  { kind: 'qr.show', params: { text: 'https://menu.example/', caption: 'Menu', expiresInSeconds: 2 } },
  { kind: 'identify', params: { seconds: 1 } },
];

t('every published ETA is within ±50 % of the real remaining time, held QRs included', async () => {
  fleet = startFleet(b.broker.mqttUrl, { devices: 1, enrollToken: await enrollmentToken(b, 1), machinesPrefix: 'ET-' });
  await fleet.waitFor((s) => s.connected === 1, 30_000, 'the device online');
  const device = fleet.devices[0]!;
  const agent = await b.agent('eta-truth');
  const who = { kind: 'agent' as const, id: agent.id };
  assert.ok((await request(agent.client, who, { op: 'claim', target: device.deviceId })).ok);
  const snapshots: JobsSnapshot[] = await watchJobs(agent, String(device.deviceId));

  // A steady stream: one job every 1.5 s, three rounds of the workload (about 27 s of work).
  const answers: Array<{ job: string; eta: number; at: number }> = [];
  for (let round = 0; round < 3; round++) {
    for (const w of WORKLOAD) {
      const at = Date.now();
      const r = await request(agent.client, who, { op: 'submit', device: device.deviceId, ...w });
      assert.ok(r.ok, JSON.stringify(r));
      answers.push({ job: r.result.job, eta: r.result.eta, at });
      await sleep(1500);
    }
  }
  const ends = new Map<string, number>();
  for (const a of answers) {
    const j = await jobIn(b, a.job, ['done', 'failed', 'expired', 'cancelled', 'interrupted'], b.adminToken, 60_000);
    assert.ok(j.state === 'done' || (j.state === 'expired' && j.hold), `job ${a.job} (${j.kind}) ended ${j.state}: ${JSON.stringify(j.error)}`);
    ends.set(a.job, j.times[j.state]);
  }

  const published = [
    ...answers.map((a) => ({ ...a, from: 'submit answer' })),
    ...snapshots.flatMap((s) => s.jobs.map((j) => ({ job: j.job, eta: j.eta, at: s.at, from: `snapshot (${j.state}, position ${j.position})` }))),
  ].filter((p) => ends.has(p.job));
  assert.ok(published.length > 40, `only ${published.length} ETAs were published`);
  const off = published
    .map((p) => {
      const real = ends.get(p.job)! - p.at;
      return { ...p, real, kind: answers.findIndex((a) => a.job === p.job) % WORKLOAD.length };
    })
    .filter((p) => Math.abs(p.eta - p.real) > TOLERANCE * p.real + LATENCY_MS);
  assert.equal(
    off.map((p) => `${WORKLOAD[p.kind]!.kind}${WORKLOAD[p.kind]!.params.hold ? ' (held)' : ''} from ${p.from}: eta ${p.eta} ms, really ${p.real} ms`),
    [],
    `${off.length} of ${published.length} published ETAs were off by more than ±50 %`,
  );
  await end(agent.client);
});

t.run();
