// Soak run (not a test): a broker process under steady churn for --minutes. Simulated devices
// (mqtt.js clients that run every job they are sent) reconnect now and then; agents claim,
// release, submit jobs, and an admin transfers devices. Every --sample seconds it prints the
// broker's RSS and heap, event-loop lag p99, open handles, registry size, and samples the registry
// invariants (test/helpers/registry-invariants.ts); at the end a verdict on growth after warm-up:
// the trend of every sample after it (growth.ts), not the last minus the first, which a GC's
// sawtooth decides.
// RSS is split into the V8 heap (used and committed) and memory outside it (Buffers, SQLite,
// sockets), so a growth says where it is. With --heap-snapshots DIR the broker writes a heap
// snapshot after the first sample past warm-up and another at the end, and the run prints their
// difference by constructor (heap-diff.ts). Writing a snapshot costs the broker hundreds of MiB
// of RSS it keeps, so such a run finds what grows and gives no verdict.
//
//   npm run soak -- [--minutes 60] [--devices 2000] [--agents 100] [--sample 30] [--heap-snapshots DIR]
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { connectAgent, randomMac, request } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { JobDevice } from '../../test/helpers/job-device';
import { metric } from '../../test/helpers/metrics';
import { end, sleep } from '../../test/helpers/mqtt';
import { pool } from '../jobs/fleet';
import { trendGrowth } from './growth';
import { diffByConstructor, readHeapSnapshot } from './heap-diff';
import { registryViolations } from '../../test/helpers/registry-invariants';
import type { Dev } from '../../test/scenarios/fleet';

const { values } = readCli(
  defineCli({
    command: 'npm run soak --',
    usage: ['[--minutes 60] [--devices 2000] [--agents 100] [--sample 30] [--heap-snapshots DIR]'],
    summary:
      'A broker process under churn (reconnects, claims, releases, transfers, jobs) for a while; prints RSS, heap, event-loop lag p99, handles and registry size over time, samples the registry invariants, and gives a verdict on growth after warm-up.',
    options: {
      minutes: { type: 'string', value: 'M', default: '60', help: 'how long to run' },
      devices: { type: 'string', value: 'N', default: '2000', help: 'simulated devices' },
      agents: { type: 'string', value: 'N', default: '100', help: 'agents' },
      sample: { type: 'string', value: 'S', default: '30', help: 'seconds between samples' },
      'heap-snapshots': {
        type: 'string',
        value: 'DIR',
        help: 'write broker heap snapshots after warm-up and at the end into DIR, and print their difference by constructor',
      },
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
const SNAPSHOTS = values['heap-snapshots'];
if (SNAPSHOTS !== undefined) mkdirSync(SNAPSHOTS, { recursive: true });
const nodeFlags = SNAPSHOTS === undefined ? [] : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOTS}`];
const bp = await BrokerProcess.start(
  dir,
  ADMIN,
  ['--request-rate', '1000', '--request-burst', '1000', '--agent-request-rate', '1000', '--agent-request-burst', '1000'],
  nodeFlags,
);
// A run that throws part way must not leave its broker behind.
process.on('exit', () => bp.child.kill('SIGKILL'));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

// Set-up in parallel: each provisioning and each first login hashes a secret, and one at a time
// 2,000 devices took longer than the run.
const devs: Dev[] = await pool(
  'provisioning',
  Array.from({ length: DEVICES }, () => randomMac()),
  16,
  async (mac) => {
    const r = await bp.api('POST', '/api/devices', { mac, model: 'test-board' });
    if (r.status !== 201) throw new Error(`provisioning: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, secret: r.body.secret, mac };
  },
);
const devices: (JobDevice | null)[] = await pool('connecting', devs, 16, (d) => JobDevice.connect(bp.mqttUrl, d, { durationMs: 50 }));
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
/** Who holds each device, as the answers said: jobs go to a device through its holder (a blind pick is NOT_BOUND 99 times in 100). */
const holders = new Map<string, (typeof agents)[number]>();
async function churn(): Promise<void> {
  while (Date.now() < deadline) {
    const a = pick(agents);
    const i = Math.floor(Math.random() * devs.length);
    const d = devs[i]!;
    const roll = Math.random();
    try {
      if (roll < 0.3) {
        if ((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id }, 30_000)).ok) {
          ops.claims++;
          holders.set(d.id, a);
        }
      } else if (roll < 0.4) {
        const h = holders.get(d.id) ?? a;
        if ((await request(h.client, { kind: 'agent', id: h.id }, { op: 'release', device: d.id }, 30_000)).ok) {
          ops.releases++;
          holders.delete(d.id);
        }
      } else if (roll < 0.45) {
        const to = pick(agents);
        if ((await bp.api('POST', `/api/devices/${d.id}/transfer`, { agent: to.id, reason: 'soak' })).status === 200) {
          ops.transfers++;
          holders.set(d.id, to);
        }
      } else if (roll < 0.9) {
        const h = holders.get(d.id) ?? a;
        ops.jobs += (await request(h.client, { kind: 'agent', id: h.id }, { op: 'submit', device: d.id, kind: 'identify', params: { seconds: 1 } }, 30_000)).ok
          ? 1
          : 0;
      } else if (devices[i]) {
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

interface Sample {
  t: number;
  rss: number;
  heap: number;
  heapTotal: number;
  external: number;
  lagP99: number;
  handles: number;
  db: number;
  violations: number;
}
const samples: Sample[] = [];
const dbSize = (): number => ['fleetbind.db', 'fleetbind.db-wal'].reduce((n, f) => n + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0);
const started = Date.now();
const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
let snapped = false;

/** Asks the broker for a heap snapshot and waits until the file is complete; returns its path. */
async function heapSnapshot(): Promise<string> {
  const before = new Set(readdirSync(SNAPSHOTS!));
  bp.child.kill('SIGUSR2');
  const deadlineMs = Date.now() + 300_000;
  for (;;) {
    const made = readdirSync(SNAPSHOTS!).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    // Node creates the file first and fills it once the snapshot is taken; it is whole once it
    // is no longer empty and its size stops changing.
    if (made !== undefined) {
      const path = join(SNAPSHOTS!, made);
      let size = -1;
      while (size === -1 || size === 0 || size !== statSync(path).size) {
        size = statSync(path).size;
        await sleep(2000);
      }
      process.stderr.write(`soak: heap snapshot ${path} (${mib(size)} MiB)\n`);
      return path;
    }
    if (Date.now() > deadlineMs) throw new Error('the broker wrote no heap snapshot in 300 s');
    await sleep(1000);
  }
}

async function sampler(): Promise<void> {
  while (Date.now() < deadline) {
    await sleep(Math.min(SAMPLE_MS, Math.max(0, deadline - Date.now())));
    const text = (await bp.api('GET', '/metrics')).body as string;
    const s: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      rss: metric(text, 'process_resident_memory_bytes'),
      heap: metric(text, 'nodejs_heap_size_used_bytes'),
      heapTotal: metric(text, 'nodejs_heap_size_total_bytes'),
      external: metric(text, 'nodejs_external_memory_bytes'),
      lagP99: metric(text, 'nodejs_eventloop_lag_p99_seconds'),
      handles: metric(text, 'nodejs_active_handles_total'),
      db: dbSize(),
      violations: registryViolations(join(dir, 'fleetbind.db')).length,
    };
    samples.push(s);
    if (SNAPSHOTS !== undefined && !snapped && s.t >= MINUTES * 60 * WARM_UP) {
      snapped = true;
      await heapSnapshot();
    }
    console.log(
      `t=${s.t}s rss=${mib(s.rss)}MiB heap=${mib(s.heap)}/${mib(s.heapTotal)}MiB outside_heap=${mib(s.rss - s.heapTotal)}MiB external=${mib(s.external)}MiB lag_p99=${(s.lagP99 * 1000).toFixed(1)}ms handles=${s.handles} db=${(s.db / 2 ** 20).toFixed(1)}MiB violations=${s.violations} ops=${JSON.stringify(ops)}`,
    );
  }
}

await Promise.all([...Array.from({ length: 8 }, churn), sampler()]);
const after = samples.filter((s) => s.t >= MINUTES * 60 * WARM_UP);
const first = after[0];
const last = after.at(-1);
const trend = (v: (s: Sample) => number): number => trendGrowth(after.map((s) => ({ t: s.t, v: v(s) })));
const growth = trend((s) => s.rss);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const violations = samples.reduce((n, s) => n + s.violations, 0);
const verdict = SNAPSHOTS !== undefined ? 'no verdict (heap snapshots were taken)' : growth < 0.05 && violations === 0 ? 'PASS' : 'FAIL';
const range = (v: (s: Sample) => number): string => `${mib(Math.min(...after.map(v)))}..${mib(Math.max(...after.map(v)))} MiB`;
console.log(
  `soak verdict: after warm-up (${after.length} samples) the RSS trend is ${pct(growth)} (target < 5 %; RSS ${range((s) => s.rss)}, first ${first ? mib(first.rss) : '?'} -> last ${last ? mib(last.rss) : '?'} MiB), ` +
    `heap used ${pct(trend((s) => s.heap))} (${range((s) => s.heap)}), heap committed ${pct(trend((s) => s.heapTotal))} (${range((s) => s.heapTotal)}), outside the heap ${pct(trend((s) => s.rss - s.heapTotal))} (${range((s) => s.rss - s.heapTotal)}), ` +
    `max lag p99 ${(Math.max(...samples.map((s) => s.lagP99)) * 1000).toFixed(1)} ms, invariant violations ${violations}, ops ${JSON.stringify(ops)}: ${verdict}`,
);
if (SNAPSHOTS !== undefined && snapped) {
  const files = readdirSync(SNAPSHOTS)
    .filter((f) => f.endsWith('.heapsnapshot'))
    .sort();
  const endFile = await heapSnapshot();
  const startFile = join(SNAPSHOTS, files[0]!);
  console.log(`heap growth by constructor, ${startFile} -> ${endFile}:`);
  for (const row of diffByConstructor(readHeapSnapshot(startFile), readHeapSnapshot(endFile)).slice(0, 25))
    console.log(`  ${row.name}: ${row.count >= 0 ? '+' : ''}${row.count} objects, ${row.bytes >= 0 ? '+' : ''}${(row.bytes / 1024).toFixed(0)} KiB`);
}
for (const d of devices) await d?.close();
await end(...agents.map((a) => a.client));
await bp.stop('SIGTERM');
rmSync(dir, { recursive: true, force: true });
