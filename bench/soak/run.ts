// Soak run (not a test): a broker process under steady churn for --minutes. Simulated devices
// (mqtt.js clients that run every job they are sent) reconnect now and then; agents claim,
// release, submit jobs, and an admin transfers devices. Every --sample seconds it prints the
// broker's RSS and heap, event-loop lag p99, open handles, registry size, and samples the registry
// invariants (test/helpers/registry-invariants.ts); at the end a verdict on growth after warm-up.
//
//   npm run soak -- [--minutes 60] [--devices 2000] [--agents 100] [--sample 30]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { connectAgent, randomMac, request } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { JobDevice } from '../../test/helpers/job-device';
import { metric } from '../../test/helpers/metrics';
import { end, sleep } from '../../test/helpers/mqtt';
import { registryViolations } from '../../test/helpers/registry-invariants';
import type { Dev } from '../../test/scenarios/fleet';

const { values } = readCli(
  defineCli({
    command: 'npm run soak --',
    usage: ['[--minutes 60] [--devices 2000] [--agents 100] [--sample 30]'],
    summary: 'A broker process under churn (reconnects, claims, releases, transfers, jobs) for a while; prints RSS, heap, event-loop lag p99, handles and registry size over time, samples the registry invariants, and gives a verdict on growth after warm-up.',
    options: {
      minutes: { type: 'string', value: 'M', default: '60', help: 'how long to run' },
      devices: { type: 'string', value: 'N', default: '2000', help: 'simulated devices' },
      agents: { type: 'string', value: 'N', default: '100', help: 'agents' },
      sample: { type: 'string', value: 'S', default: '30', help: 'seconds between samples' },
    },
  }),
);
const MINUTES = Number(values.minutes);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const SAMPLE_MS = Number(values.sample) * 1000;
/** Samples before this share of the run are warm-up: growth is measured from the first after it. */
const WARM_UP = 0.2;

const ADMIN = randomBytes(24).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'fleetbind-soak-'));
const bp = await BrokerProcess.start(dir, ADMIN, ['--request-rate', '1000', '--request-burst', '1000', '--agent-request-rate', '1000', '--agent-request-burst', '1000']);
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

const devs: Dev[] = [];
for (let i = 0; i < DEVICES; i++) {
  const mac = randomMac();
  const r = await bp.api('POST', '/api/devices', { mac, model: 'test-board' });
  devs.push({ id: r.body.id, secret: r.body.secret, mac });
}
const devices: (JobDevice | null)[] = [];
for (const d of devs) devices.push(await JobDevice.connect(bp.mqttUrl, d, { durationMs: 50 }));
const agents: { client: Awaited<ReturnType<typeof connectAgent>>; id: string; token: string }[] = [];
for (let i = 0; i < AGENTS; i++) {
  const id = `soak-${i}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await bp.api('POST', '/api/agents', { id, name: id, password, deviceLimit: 10_000 });
  const login = await bp.api('POST', '/api/login', { id, password }, undefined);
  agents.push({ client: await connectAgent(bp.mqttUrl, id, login.body.token), id, token: login.body.token });
}
process.stderr.write(`soak: ${DEVICES} devices and ${AGENTS} agents connected; churning for ${MINUTES} min\n`);

const ops = { claims: 0, releases: 0, transfers: 0, jobs: 0, reconnects: 0, errors: 0 };
const deadline = Date.now() + MINUTES * 60_000;
async function churn(): Promise<void> {
  while (Date.now() < deadline) {
    const a = pick(agents);
    const i = Math.floor(Math.random() * devs.length);
    const d = devs[i]!;
    const roll = Math.random();
    try {
      if (roll < 0.3) ops.claims += (await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id }, 30_000)).ok ? 1 : 0;
      else if (roll < 0.4) ops.releases += (await request(a.client, { kind: 'agent', id: a.id }, { op: 'release', device: d.id }, 30_000)).ok ? 1 : 0;
      else if (roll < 0.45) ops.transfers += (await bp.api('POST', `/api/devices/${d.id}/transfer`, { agent: pick(agents).id, reason: 'soak' })).status === 200 ? 1 : 0;
      else if (roll < 0.9) ops.jobs += (await request(a.client, { kind: 'agent', id: a.id }, { op: 'submit', device: d.id, kind: 'identify', params: { seconds: 1 } }, 30_000)).ok ? 1 : 0;
      else if (devices[i]) {
        const dev = devices[i]!;
        devices[i] = null;
        await dev.drop();
        await dev.reconnect(Math.random() < 0.5);
        devices[i] = dev;
        ops.reconnects++;
      }
    } catch {
      ops.errors++;
    }
    await sleep(5);
  }
}

interface Sample { t: number; rss: number; heap: number; lagP99: number; handles: number; db: number; violations: number }
const samples: Sample[] = [];
const dbSize = (): number => ['fleetbind.db', 'fleetbind.db-wal'].reduce((n, f) => n + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0);
const started = Date.now();
async function sampler(): Promise<void> {
  while (Date.now() < deadline) {
    await sleep(Math.min(SAMPLE_MS, Math.max(0, deadline - Date.now())));
    const text = (await bp.api('GET', '/metrics')).body as string;
    const s: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      rss: metric(text, 'process_resident_memory_bytes'),
      heap: metric(text, 'nodejs_heap_size_used_bytes'),
      lagP99: metric(text, 'nodejs_eventloop_lag_p99_seconds'),
      handles: metric(text, 'nodejs_active_handles_total'),
      db: dbSize(),
      violations: registryViolations(join(dir, 'fleetbind.db')).length,
    };
    samples.push(s);
    console.log(`t=${s.t}s rss=${(s.rss / 2 ** 20).toFixed(0)}MiB heap=${(s.heap / 2 ** 20).toFixed(0)}MiB lag_p99=${(s.lagP99 * 1000).toFixed(1)}ms handles=${s.handles} db=${(s.db / 2 ** 20).toFixed(1)}MiB violations=${s.violations} ops=${JSON.stringify(ops)}`);
  }
}

await Promise.all([...Array.from({ length: 8 }, churn), sampler()]);
const after = samples.filter((s) => s.t >= MINUTES * 60 * WARM_UP);
const first = after[0];
const last = after.at(-1);
const growth = first && last ? (last.rss - first.rss) / first.rss : NaN;
const violations = samples.reduce((n, s) => n + s.violations, 0);
console.log(
  `soak verdict: RSS ${first ? (first.rss / 2 ** 20).toFixed(0) : '?'} -> ${last ? (last.rss / 2 ** 20).toFixed(0) : '?'} MiB after warm-up (${(growth * 100).toFixed(1)} %, target < 5 %), heap ${first ? (first.heap / 2 ** 20).toFixed(0) : '?'} -> ${last ? (last.heap / 2 ** 20).toFixed(0) : '?'} MiB, max lag p99 ${(Math.max(...samples.map((s) => s.lagP99)) * 1000).toFixed(1)} ms, invariant violations ${violations}: ${growth < 0.05 && violations === 0 ? 'PASS' : 'FAIL'}`,
);
for (const d of devices) await d?.close();
await end(...agents.map((a) => a.client));
await bp.stop('SIGTERM');
rmSync(dir, { recursive: true, force: true });
