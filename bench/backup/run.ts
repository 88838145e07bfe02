// Backup and restore benchmark (docs/architecture.md, Backup and restore): a registry of
// --devices devices (half of them bound to --agents agents, each with its audit rows) and --jobs
// finished jobs with their history, then `npm run fleet -- backup FILE` against the running broker
// while a prober keeps asking it for a device (how long the broker stalls behind the backup), and
// `npm start -- --restore FILE` into a fresh data dir until it listens. Prints the sizes, the
// times, the broker's CPU time for the backup and the rows found after the restore.
//
// The rows are written straight into the broker's own registry file (migrated by the broker, then
// stopped) in one transaction: through the broker 100,000 jobs would take an hour to run, and
// what is measured is the copy, not how the rows got there. Every device shares the template
// device's secret hash; the devices never log in here.
//
//   npm run bench:backup -- [--devices 10000] [--jobs 100000] [--agents 100]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { randomMac } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { runNpmScript } from '../../test/helpers/npm-script';
import { cpuMsOf } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:backup --',
    usage: ['[--devices 10000] [--jobs 100000] [--agents 100]'],
    summary:
      'Backs up a registry of that many devices and finished jobs while the broker runs, restores it into a fresh data dir, and prints sizes, times and the broker stall.',
    options: {
      devices: { type: 'string', value: 'N', default: '10000', help: 'devices in the registry (half of them bound)' },
      jobs: { type: 'string', value: 'N', default: '100000', help: 'finished jobs, each with three history events' },
      agents: { type: 'string', value: 'N', default: '100', help: 'agents holding the bound devices' },
    },
  }),
);
const DEVICES = Number(values.devices);
const JOBS = Number(values.jobs);
const AGENTS = Number(values.agents);
for (const [name, v] of Object.entries({ devices: DEVICES, jobs: JOBS, agents: AGENTS }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);

const ADMIN = randomBytes(24).toString('hex');
const root = mkdtempSync(join(tmpdir(), 'fleetbind-bench-backup-'));
const live = join(root, 'live');
const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
const say = (line: string): void => void process.stderr.write(`backup bench: ${line}\n`);
let bp: BrokerProcess | null = null;
process.on('exit', () => {
  bp?.child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

// The broker makes the registry (every migration) and one real device and agent to copy.
bp = await BrokerProcess.start(live, ADMIN);
const made = await bp.api('POST', '/api/devices', { mac: randomMac(), model: 'test-board' });
if (made.status !== 201) throw new Error(`provisioning the template device: ${made.status} ${JSON.stringify(made.body)}`);
const agentMade = await bp.api('POST', '/api/agents', {
  id: 'bench-template',
  name: 'template',
  password: `pw-${randomBytes(8).toString('hex')}`,
  deviceLimit: 10_000,
});
if (agentMade.status !== 201) throw new Error(`creating the template agent: ${agentMade.status} ${JSON.stringify(agentMade.body)}`);
await bp.stop('SIGTERM');
bp = null;

say(`writing ${DEVICES} devices, ${AGENTS} agents and ${JOBS} jobs into the registry`);
const filled = Date.now();
{
  const db = new SQLite(join(live, 'fleetbind.db'));
  const device = db.prepare('SELECT * FROM devices WHERE id = ?').get(made.body.id) as Record<string, unknown>;
  const agent = db.prepare('SELECT * FROM agents WHERE id = ?').get('bench-template') as Record<string, unknown>;
  const insert = (table: string, row: Record<string, unknown>) =>
    db.prepare(
      `INSERT INTO ${table} (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row)
        .map(() => '?')
        .join(', ')})`,
    );
  const now = Date.now();
  const agentIds = Array.from({ length: AGENTS }, (_, i) => `bench-${i}`);
  const bound: { id: string; holder: string }[] = [];
  db.transaction(() => {
    const addAgent = insert('agents', agent);
    for (const id of agentIds) addAgent.run(...Object.values({ ...agent, id, name: id }));
    const addDevice = insert('devices', device);
    const audit = db.prepare('INSERT INTO audit (at, actor, action, device, agent, detail) VALUES (?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < DEVICES; i++) {
      const mac = randomMac();
      const id = `esp32-${mac}`;
      const holder = i % 2 === 0 ? agentIds[i % AGENTS]! : null;
      if (holder) bound.push({ id, holder });
      addDevice.run(
        ...Object.values({
          ...device,
          id,
          mac,
          agent_id: holder,
          bound_at: holder ? now : null,
          bound_via: holder ? 'device-id' : null,
          binding_version: holder ? 1 : 0,
        }),
      );
      audit.run(now, 'admin:bench', 'provision', id, null, '{}');
      if (holder) audit.run(now, `agent:${holder}`, 'claim', id, holder, '{}');
    }
    const addJob = db.prepare(
      "INSERT INTO jobs (id, device, agent, kind, params, hold, seq, state, attempt, ttl_ms, expires_at, retries, queued_at, dispatched_at, running_at, done_at, result, updated_at) VALUES (?, ?, ?, 'identify', '{\"seconds\":1}', 0, ?, 'done', 1, 600000, ?, 0, ?, ?, ?, ?, 'null', ?)",
    );
    const addEvent = db.prepare('INSERT INTO job_events (job, at, event, detail) VALUES (?, ?, ?, ?)');
    for (let j = 0; j < JOBS; j++) {
      const { id: d, holder } = bound[j % bound.length]!;
      const id = `job-${randomBytes(8).toString('hex')}`;
      const t = now - (JOBS - j) * 1000;
      addJob.run(id, d, holder, Math.floor(j / bound.length) + 1, t + 600_000, t, t + 5, t + 10, t + 900, t + 900);
      addEvent.run(id, t, 'queued', '{}');
      addEvent.run(id, t + 10, 'running', '{"attempt":1}');
      addEvent.run(id, t + 900, 'done', '{}');
      if (j % 20_000 === 19_999) say(`${j + 1} jobs`);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
const registryBytes = statSync(join(live, 'fleetbind.db')).size;
say(`registry ${mib(registryBytes)} MiB written in ${((Date.now() - filled) / 1000).toFixed(1)} s; starting the broker on it`);

bp = await BrokerProcess.start(live, ADMIN);
// A prober asks the broker for one device all along: its worst answer time is the stall a backup causes.
let probing = true;
const probeMs: number[] = [];
const probe = (async () => {
  while (probing) {
    const t = performance.now();
    await bp!.api('GET', `/api/devices/${made.body.id}`);
    probeMs.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
})();
await new Promise((r) => setTimeout(r, 1000));
const idleWorst = Math.max(...probeMs);
probeMs.length = 0;

const file = join(root, 'fleet.backup');
const cpu0 = cpuMsOf(bp.child.pid!)!;
const t0 = performance.now();
const run = await runNpmScript('fleet', ['backup', file, '--broker-api', bp.httpUrl, '--admin-token', ADMIN]);
const backupMs = performance.now() - t0;
const cpuMs = cpuMsOf(bp.child.pid!)! - cpu0;
probing = false;
await probe;
if (run.code !== 0) throw new Error(`fleet backup failed: ${run.stderr}`);
const serverMs = bp.logLines().find((l) => l.msg === 'backup taken')?.ms as number | undefined;
const backupBytes = statSync(file).size;
await bp.stop('SIGTERM');
bp = null;

say('restoring into a fresh data dir');
const restored = join(root, 'restored');
const t1 = performance.now();
bp = await BrokerProcess.start(restored, ADMIN, ['--restore', file]);
const restoreMs = performance.now() - t1;
const counts = await bp.api('GET', '/api/devices?limit=1');
await bp.stop('SIGTERM');
bp = null;
const check = new SQLite(join(restored, 'fleetbind.db'), { readonly: true });
const rows = Object.fromEntries(
  ['devices', 'agents', 'jobs', 'job_events', 'audit'].map((t) => [t, (check.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]),
);
check.close();

console.log(`registry: ${DEVICES + 1} devices, ${AGENTS + 1} agents, ${JOBS} jobs (${JOBS * 3} events): ${mib(registryBytes)} MiB`);
console.log(
  `backup:   ${mib(backupBytes)} MiB (${((backupBytes / registryBytes) * 100).toFixed(0)} % of the registry) in ${(backupMs / 1000).toFixed(2)} s end to end (fleet CLI start-up included), ${serverMs ?? '?'} ms in the broker, broker CPU ${cpuMs.toFixed(0)} ms`,
);
console.log(
  `stall:    worst GET /api/devices/<id> ${Math.max(...probeMs).toFixed(0)} ms during the backup (${probeMs.length} probes), ${idleWorst.toFixed(0)} ms before it`,
);
console.log(
  `restore:  ${(restoreMs / 1000).toFixed(2)} s from start to listening (tsx start-up included); rows after it: ${JSON.stringify(rows)} (${rows.jobs === JOBS && rows.devices === DEVICES + 1 ? 'all there' : 'ROWS MISSING'}); GET /api/devices ${counts.status}`,
);
