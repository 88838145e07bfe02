// Jobs across a crash: the broker is killed with SIGKILL while jobs are queued. After a restart on
// the same data dir every queue is intact (same jobs, same order), and the jobs that were running
// follow the interrupted rule: idempotent kinds go back to the head of their queue, others end
// `interrupted`. Then the devices reconnect and work through the queues in order.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectAgent, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { type Agent, identify, jobIn, jobsWhen, submitOk } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import type { Dev } from '../scenarios/fleet';

const ADMIN = randomBytes(24).toString('hex');
const FLAGS = ['--job-ack-timeout-ms', '300'];
let dir: string;
let bp: BrokerProcess | null = null;
const devices: JobDevice[] = [];
const clients: Agent[] = [];

async function provision(): Promise<Dev> {
  const mac = randomMac();
  const r = await bp!.api('POST', '/api/devices', { mac, model: 'test-board' });
  if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, secret: r.body.secret, mac };
}

async function agent(id: string, password: string): Promise<Agent> {
  const login = await bp!.api('POST', '/api/login', { id, password }, undefined);
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  const a = { client: await connectAgent(bp!.mqttUrl, id, login.body.token), id, token: login.body.token as string };
  clients.push(a);
  return a;
}

const open = (jobs: any[]): any[] => jobs.filter((j) => ['queued', 'dispatched', 'running'].includes(j.state)).sort((x, y) => x.position - y.position);

const s = suite('jobs: broker restart');
s.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-jobs-restart-'));
});
s.after(async () => {
  for (const d of devices) await d.close();
  await end(...clients.map((a) => a.client));
  await bp?.kill();
  rmSync(dir, { recursive: true, force: true });
});

s('after SIGKILL the queues are intact and running jobs follow the interrupted rule', async () => {
  bp = await BrokerProcess.start(dir, ADMIN, FLAGS);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  assert.is((await bp.api('POST', '/api/agents', { id: 'kiosk-owner', name: 'Kiosk owner', password })).status, 201);
  const a = await agent('kiosk-owner', password);
  const [d1, d2] = [await provision(), await provision()];
  for (const d of [d1, d2]) {
    devices.push(await JobDevice.connect(bp.mqttUrl, d, { mode: 'hold' }));
    const claimed = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id });
    assert.ok(claimed.ok, JSON.stringify(claimed));
  }

  const serial = await submitOk(a, { device: d1.id, kind: 'serial.send', params: { data: 'UFJJTlQ=', timeoutMs: 1000 } });
  const queued1: string[] = [];
  for (let i = 0; i < 4; i++) queued1.push(await submitOk(a, identify(d1.id)));
  const shown = await submitOk(a, identify(d2.id));
  const queued2: string[] = [];
  for (let i = 0; i < 2; i++) queued2.push(await submitOk(a, { device: d2.id, kind: 'qr.show', params: { text: `order-${i}`, caption: 'pay here' } }));
  await jobIn(bp, serial, ['running']);
  await jobIn(bp, shown, ['running']);
  const before1 = open(await jobsWhen(bp, d1.id, () => true));
  assert.equal(
    before1.map((j) => j.job),
    [serial, ...queued1],
  );

  const exit = await bp.stop('SIGKILL');
  assert.is(exit.signal, 'SIGKILL');
  for (const d of devices) await d.close();
  await end(a.client);

  bp = await BrokerProcess.start(dir, ADMIN, FLAGS);
  const interrupted = await jobIn(bp, serial, ['interrupted']);
  assert.is(interrupted.error.code, 'INTERRUPTED');
  const after1 = open(await jobsWhen(bp, d1.id, () => true));
  assert.equal(
    after1.map((j) => [j.job, j.state, j.position]),
    queued1.map((id, i) => [id, 'queued', i + 1]),
    'device 1: same jobs, same order',
  );
  const after2 = open(await jobsWhen(bp, d2.id, () => true));
  assert.equal(
    after2.map((j) => [j.job, j.state, j.position]),
    [shown, ...queued2].map((id, i) => [id, 'queued', i + 1]),
    'device 2: the interrupted identify is back at the head',
  );
  assert.type(after2[0].times.interrupted, 'number');
  assert.is(after2[0].retries, 1);

  // The devices come back (rebooted, remembering nothing) and work through the queues; the
  // agent's session survived the restart.
  devices.splice(0, devices.length, await JobDevice.connect(bp.mqttUrl, d1, { durationMs: 5 }), await JobDevice.connect(bp.mqttUrl, d2, { durationMs: 5 }));
  for (const id of [...queued1, shown, ...queued2]) await jobIn(bp, id, ['done'], a.token);
  assert.equal(devices[0]!.runs, queued1, 'device 1 ran its queue in order and not the interrupted serial.send');
  assert.equal(devices[1]!.runs, [shown, ...queued2], 'device 2 ran the identify again, then its queue');
});

s.run();
