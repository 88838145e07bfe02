// Online backup and restore (docs/architecture.md, Backup and restore): `npm run fleet -- backup`
// runs while agents claim devices and devices run jobs; the backup is restored with
// `npm start -- --restore` into a fresh data dir. The restored broker holds every binding that was
// answered before the backup began, its registry keeps the invariants (at most one agent per
// device, open jobs only of the holder, one final state per job), and the devices log in to it
// with their old secrets and run jobs. A restore never overwrites a registry. The same on
// PostgreSQL (pg_dump while the broker runs, pg_restore into an empty database).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import * as assert from 'uvu/assert';
import { connectAgent, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { type Agent, identify, jobIn, submit, submitOk } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { runNpmScript } from '../helpers/npm-script';
import { type Backends, adminQuery, freshBackends, requireBackends } from '../helpers/backends';
import { registryViolations, registryViolationsPg } from '../helpers/registry-invariants';
import { suite } from '../helpers/suite';
import type { Dev } from '../scenarios/fleet';

const ADMIN = randomBytes(24).toString('hex');
const DEVICES = 24;
const RUNNING = 4;
let root: string;
let bp: BrokerProcess | null = null;
const devices: JobDevice[] = [];
const agents: Agent[] = [];

async function provision(b: BrokerProcess): Promise<Dev> {
  const mac = randomMac();
  const r = await b.api('POST', '/api/devices', { mac, model: 'test-board' });
  if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, secret: r.body.secret, mac };
}

async function agent(b: BrokerProcess, id: string): Promise<Agent> {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  assert.is((await b.api('POST', '/api/agents', { id, name: id, password, deviceLimit: 1000 })).status, 201);
  const login = await b.api('POST', '/api/login', { id, password }, undefined);
  const a = { client: await connectAgent(b.mqttUrl, id, login.body.token), id, token: login.body.token as string };
  agents.push(a);
  return a;
}

/** Where a registry lives: the data dir's SQLite file, or a PostgreSQL database. */
interface Backend {
  flags: string[];
  violations(dataDir: string): Promise<string[]>;
}

const sqlite: Backend = { flags: [], violations: async (dataDir) => registryViolations(join(dataDir, 'fleetbind.db')) };
let pgLive: Backends | Error | undefined;
let pgFresh: string | undefined;

const s = suite('backup and restore');
s.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'fleetbind-backup-'));
  pgLive = await freshBackends();
});
s.after(async () => {
  await stopAll();
  if (pgLive && !(pgLive instanceof Error)) {
    if (pgFresh !== undefined) await adminQuery(pgLive.adminUrl, `drop database if exists ${pgFresh} with (force)`);
    await pgLive.drop();
  }
  rmSync(root, { recursive: true, force: true });
});

async function stopAll(): Promise<void> {
  for (const d of devices.splice(0)) await d.close();
  await end(...agents.splice(0).map((x) => x.client));
  await bp?.kill();
  bp = null;
}

async function backupDuringBurst(name: string, live: Backend, restored: Backend): Promise<void> {
  bp = await BrokerProcess.start(join(root, `${name}-live`), ADMIN, live.flags);
  const a = await agent(bp, 'kiosk-a');
  const b = await agent(bp, 'kiosk-b');
  const devs: Dev[] = [];
  for (let i = 0; i < DEVICES; i++) devs.push(await provision(bp));
  for (const d of devs.slice(0, RUNNING)) {
    devices.push(await JobDevice.connect(bp.mqttUrl, d, { durationMs: 5 }));
    assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
  }

  // The burst: both agents race for the other devices, and jobs keep the running ones busy.
  const answered = new Map<string, { agent: string; at: number }>();
  let stop = false;
  const claimer = async (who: Agent, order: Dev[]): Promise<void> => {
    for (const d of order) {
      if (stop) return;
      const r = await request(who.client, { kind: 'agent', id: who.id }, { op: 'claim', target: d.id }, 20_000);
      if (r.ok) answered.set(d.id, { agent: who.id, at: Date.now() });
    }
  };
  const rest = devs.slice(RUNNING);
  const jobs: string[] = [];
  const submitter = async (): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const r = await submit(a, identify(devs[i % RUNNING]!.id));
      if (r.ok) jobs.push(r.result.job);
    }
  };
  const burst = Promise.all([claimer(a, rest), claimer(b, [...rest].reverse()), submitter()]);
  while (answered.size < 8) await new Promise((r) => setTimeout(r, 20));

  const file = join(root, `${name}.backup`);
  const began = Date.now();
  const committedBefore = new Map([...answered].filter(([, v]) => v.at < began));
  const run = await runNpmScript('fleet', ['backup', file, '--broker-api', bp.httpUrl, '--admin-token', ADMIN]);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, `backup saved to ${file}`);
  stop = true;
  await burst;
  console.log(
    `\nbackup (${name}): ${statSync(file).size} bytes; ${committedBefore.size} bindings answered before it began, ${answered.size} by the end of the burst, ${jobs.length} jobs submitted`,
  );
  assert.is(statSync(file).mode & 0o777, 0o600, 'the backup holds secrets: mode 600');

  for (const d of devices.splice(0)) await d.close();
  await end(...agents.splice(0).map((x) => x.client));
  await bp.stop('SIGTERM');

  const fresh = join(root, `${name}-restored`);
  bp = await BrokerProcess.start(fresh, ADMIN, [...restored.flags, '--restore', file]);
  const bindings = await bp.api('GET', '/api/bindings');
  assert.is(bindings.status, 200);
  const held = new Map((bindings.body as { device: string; agent: string }[]).map((x) => [x.device, x.agent]));
  for (const [device, v] of committedBefore) assert.is(held.get(device), v.agent, `binding of ${device} answered before the backup began`);
  for (const d of devs.slice(0, RUNNING)) assert.is(held.get(d.id), a.id);
  assert.equal(await restored.violations(fresh), [], 'the restored registry keeps the invariants');

  // The devices log in with their old secrets (the key came with the backup) and run jobs; the
  // agents log in with their old passwords' sessions.
  const again = await agent2(bp, a);
  const d0 = devs[0]!;
  devices.push(await JobDevice.connect(bp.mqttUrl, d0, { durationMs: 5 }));
  const job = await submitOk(again, identify(d0.id));
  await jobIn(bp, job, ['done'], ADMIN, 20_000);
}

s('a backup taken during a claim and job burst restores every binding answered before it began', async () => {
  await backupDuringBurst('sqlite', sqlite, sqlite);
  const db = new SQLite(join(root, 'sqlite-restored', 'fleetbind.db'), { readonly: true });
  try {
    assert.is(
      (db.prepare("SELECT count(*) AS n FROM kv WHERE key = 'device_secret_key'").get() as { n: number }).n,
      0,
      'the key is back in its file, not in the registry',
    );
  } finally {
    db.close();
  }
});

/** The agent again on the restored broker, with the session token it had (sessions are in the registry). */
async function agent2(b: BrokerProcess, a: Agent): Promise<Agent> {
  const x = { client: await connectAgent(b.mqttUrl, a.id, a.token), id: a.id, token: a.token };
  agents.push(x);
  return x;
}

s('a restore never overwrites a registry', async () => {
  await stopAll();
  const err = await BrokerProcess.start(join(root, 'sqlite-restored'), ADMIN, ['--restore', join(root, 'sqlite.backup')]).then(
    () => assert.unreachable('the broker started over an existing registry'),
    (e: Error) => e,
  );
  assert.match(String(err), 'restore into an empty data dir');
});

s('on PostgreSQL: pg_dump during the burst, pg_restore into an empty database, and never over a registry', async () => {
  requireBackends(pgLive);
  const live = pgLive;
  pgFresh = `${live.database}_restored`;
  await adminQuery(live.adminUrl, `create database ${pgFresh}`);
  const freshUrl = new URL(live.databaseUrl);
  freshUrl.pathname = `/${pgFresh}`;
  const on = (url: string): Backend => ({ flags: ['--database-url', url], violations: () => registryViolationsPg(url) });
  await backupDuringBurst('pg', on(live.databaseUrl), on(freshUrl.toString()));
  await stopAll();
  const err = await BrokerProcess.start(join(root, 'pg-again'), ADMIN, ['--database-url', live.databaseUrl, '--restore', join(root, 'pg.backup')]).then(
    () => assert.unreachable('the broker restored over a database that holds a registry'),
    (e: Error) => e,
  );
  assert.match(String(err), 'pg_restore failed');
});

s.run();
