// Upgrade from the first released schema: a registry written with only migration 0001 (the
// committed fixture, test/fixtures/schema-0001/) is opened by the current broker. Every row is
// still there, the old credentials still work (scrypt device secrets included), and it serves
// jobs.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import * as assert from 'uvu/assert';
import { connectAgent } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { identify, jobIn, submitOk } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import { FIXTURE } from '../fixtures/schema-0001/fixture';

const ADMIN = randomBytes(24).toString('hex');
const fixtureDb = join(import.meta.dirname, '..', 'fixtures', 'schema-0001', 'fleetbind.db');
let dir: string;
let bp: BrokerProcess | null = null;

const s = suite('upgrade from the first schema');
s.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-upgrade-'));
  copyFileSync(fixtureDb, join(dir, 'fleetbind.db'));
});
s.after(async () => {
  await bp?.kill();
  rmSync(dir, { recursive: true, force: true });
});

s('the current broker opens a 0001-only registry: every row is kept, old credentials work, it serves', async () => {
  const before = new SQLite(fixtureDb, { readonly: true });
  const migrations = (before.prepare('SELECT name FROM kysely_migration').all() as { name: string }[]).map((r) => r.name);
  const auditBefore = before.prepare('SELECT at, actor, action, device, agent FROM audit ORDER BY seq').all();
  before.close();
  assert.equal(migrations, ['0001-initial'], 'the fixture has the first schema only');

  bp = await BrokerProcess.start(dir, ADMIN);
  const devices = await bp.api('GET', '/api/devices');
  assert.is(devices.status, 200);
  assert.equal((devices.body as any[]).map((d) => [d.id, d.machineCode, d.agent]).sort(), FIXTURE.devices.map((d) => [d.id, d.machineCode, d.agent]).sort());
  const agents = await bp.api('GET', '/api/agents');
  assert.equal((agents.body as any[]).map((a) => [a.id, a.name]).sort(), FIXTURE.agents.map((a) => [a.id, a.name]).sort());
  const after = new SQLite(join(dir, 'fleetbind.db'), { readonly: true });
  assert.equal(
    after.prepare('SELECT at, actor, action, device, agent FROM audit WHERE seq <= ? ORDER BY seq').all(auditBefore.length),
    auditBefore,
    'the audit rows are unchanged',
  );
  assert.ok((after.prepare('SELECT count(*) AS n FROM kysely_migration').get() as { n: number }).n > 1, 'the later migrations ran');
  after.close();

  const admin = await bp.api('POST', '/api/login', { id: `admin:${FIXTURE.admin.name}`, password: FIXTURE.admin.password }, undefined);
  assert.is(admin.status, 200, JSON.stringify(admin.body));
  const agent = FIXTURE.agents[0];
  const login = await bp.api('POST', '/api/login', { id: agent.id, password: agent.password }, undefined);
  assert.is(login.status, 200, JSON.stringify(login.body));

  // The bound device logs in with the secret the first release stored (as scrypt) and runs a job.
  const d = FIXTURE.devices[0];
  const device = await JobDevice.connect(bp.mqttUrl, { id: d.id, secret: d.secret, mac: d.mac });
  const client = await connectAgent(bp.mqttUrl, agent.id, login.body.token);
  try {
    const job = await submitOk({ client, id: agent.id, token: login.body.token }, identify(d.id));
    await jobIn(bp, job, ['done'], ADMIN, 20_000);
  } finally {
    await device.close();
    await end(client);
  }
});

s.run();
