// Pools across a crash: the broker is SIGKILLed with two devices leased (one running a job that
// is not safe to repeat, one an idempotent job) and a third job waiting in the pool queue. After a
// restart on the same data dir: the interrupted job's lease has ended, the idempotent job keeps its
// lease and runs again when its device returns, the waiting job keeps its place and id and gets
// the freed device, and no lease is left without a job.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { connectAgent, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { type Agent, jobIn } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { noOrphanedLeases, ok } from '../helpers/pools';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

const ADMIN = randomBytes(24).toString('hex');
const FLAGS = ['--job-ack-timeout-ms', '300'];
let dir: string;
let bp: BrokerProcess | null = null;
const devices: JobDevice[] = [];
const clients: Agent[] = [];

const s = suite('pools: broker restart');
s.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-pools-restart-'));
});
s.after(async () => {
  for (const d of devices) await d.close();
  await end(...clients.map((a) => a.client));
  await bp?.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function agent(id: string, password: string): Promise<Agent> {
  const login = await ok(bp!.api('POST', '/api/login', { id, password }, undefined));
  const a = { client: await connectAgent(bp!.mqttUrl, id, login.token), id, token: login.token as string };
  clients.push(a);
  return a;
}

s('after SIGKILL leases and the pool queue come back consistent, and no lease is orphaned', async () => {
  bp = await BrokerProcess.start(dir, ADMIN, FLAGS);
  await ok(bp.api('POST', '/api/locations', { id: 'hall', name: 'Hall' }), 201);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  for (const id of ['a1', 'a2', 'a3']) {
    await ok(bp.api('POST', '/api/agents', { id, name: id, password }), 201);
    await ok(bp.api('PATCH', `/api/agents/${id}`, { locations: ['hall'] }));
  }
  const devs: Dev[] = [];
  for (let i = 0; i < 2; i++) {
    const mac = randomMac();
    const r = await ok(bp.api('POST', '/api/devices', { mac, model: 'test-board' }), 201);
    devs.push({ id: r.id, secret: r.secret, mac });
    devices.push(await JobDevice.connect(bp.mqttUrl, devs[i]!, { mode: 'hold' }));
    await ok(bp.api('PATCH', `/api/devices/${r.id}`, { location: 'hall', mode: 'pool' }));
  }
  const [a1, a2, a3] = [await agent('a1', password), await agent('a2', password), await agent('a3', password)];
  const serial = await request(
    a1.client,
    { kind: 'agent', id: 'a1' },
    { op: 'submit', pool: 'hall', kind: 'serial.send', params: { data: 'aGk=', timeoutMs: 1000 } },
  );
  assert.ok(serial.ok, JSON.stringify(serial));
  const ident = await request(a2.client, { kind: 'agent', id: 'a2' }, { op: 'submit', pool: 'hall', kind: 'identify', params: { seconds: 1 } });
  assert.ok(ident.ok, JSON.stringify(ident));
  const waiting = await request(a3.client, { kind: 'agent', id: 'a3' }, { op: 'submit', pool: 'hall', kind: 'identify', params: { seconds: 1 } });
  assert.is(waiting.result.position, 1);
  await jobIn(bp, serial.result.job, ['running']);
  await jobIn(bp, ident.result.job, ['running']);

  assert.is((await bp.stop('SIGKILL')).signal, 'SIGKILL');
  // The kill closed every connection; the clients stop reconnecting to the old port.
  for (const d of devices) d.client.end(true);
  for (const a of clients.splice(0)) await end(a.client);

  bp = await BrokerProcess.start(dir, ADMIN, FLAGS);
  const interrupted = await jobIn(bp, serial.result.job, ['interrupted']);
  assert.is(interrupted.error.code, 'INTERRUPTED');
  await waitUntil(
    async () => (await ok(bp!.api('GET', '/api/leases'))).every((l: any) => l.device !== serial.result.device),
    20_000,
    "the interrupted job's lease to end",
  );
  const leases = await ok(bp.api('GET', '/api/leases'));
  assert.equal(
    leases.map((l: any) => [l.device, l.agent, l.job]),
    [[ident.result.device, 'a2', ident.result.job]],
    'the idempotent job keeps its lease',
  );
  const hall = await ok(bp.api('GET', '/api/locations/hall'));
  assert.equal(
    hall.queue.map((q: any) => [q.job, q.position]),
    [[waiting.result.job, 1]],
    'the waiting job kept its place and id',
  );
  const stillWaiting = await ok(bp.api('GET', `/api/jobs/${waiting.result.job}`));
  assert.equal(
    [stillWaiting.state, stillWaiting.device, stillWaiting.pool, stillWaiting.position],
    ['queued', null, 'hall', 1],
    'the waiting job reads as queued in its pool after the restart',
  );
  await noOrphanedLeases(bp);

  // The devices come back: the freed one takes the waiting job, the other runs its job again.
  for (const d of devices) await d.reconnect(true, bp.mqttUrl);
  // Wait for the queue to hand the waiting job over, then follow it as a device job.
  await waitUntil(
    async () => (await ok(bp!.api('GET', '/api/locations/hall'))).queue.length === 0,
    20_000,
    'the pool queue to hand the waiting job to the freed device',
  );
  await jobIn(bp, waiting.result.job, ['running'], undefined, 20_000);
  const placed = await ok(bp.api('GET', `/api/jobs/${waiting.result.job}`));
  assert.is(placed.device, serial.result.device);
  await jobIn(bp, ident.result.job, ['running'], undefined, 20_000);
  await noOrphanedLeases(bp);
  for (const [job, device] of [
    [waiting.result.job, serial.result.device],
    [ident.result.job, ident.result.device],
  ] as const) {
    await devices.find((d) => d.id === device)!.ack({ job, state: 'done', result: {} });
    await jobIn(bp, job, ['done']);
  }
  await waitUntil(async () => (await ok(bp!.api('GET', '/api/leases'))).length === 0, 20_000, 'every lease to end');
  await noOrphanedLeases(bp);
});

s.run();
