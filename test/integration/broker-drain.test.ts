// SIGTERM drains the broker (docs/architecture.md, Shutdown and overload): it stops accepting,
// agents hear `broker-restart` presence for their devices before their connections close, claims
// under way when the signal came are committed (or not answered), and the process exits 0 and
// logs "stopped". After a restart every claim that was answered is there.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { connectAgent, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { end, recorder, subscribe } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';
import { deviceTopic } from '../../protocol/topics';
import type { Dev } from '../scenarios/fleet';

const ADMIN = randomBytes(24).toString('hex');
let dir: string;
let bp: BrokerProcess | null = null;

async function provision(b: BrokerProcess): Promise<Dev> {
  const mac = randomMac();
  const r = await b.api('POST', '/api/devices', { mac, model: 'test-board' });
  if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, secret: r.body.secret, mac };
}

const s = suite('SIGTERM drain');
s.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-drain-'));
});
s.after(async () => {
  await bp?.kill();
  rmSync(dir, { recursive: true, force: true });
});

s('agents hear broker-restart, answered claims are committed, the process exits 0', async () => {
  bp = await BrokerProcess.start(dir, ADMIN);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  assert.is((await bp.api('POST', '/api/agents', { id: 'kiosk', name: 'Kiosk', password, deviceLimit: 100 })).status, 201);
  const login = await bp.api('POST', '/api/login', { id: 'kiosk', password }, undefined);
  const agent = await connectAgent(bp.mqttUrl, 'kiosk', login.body.token);
  agent.setMaxListeners(50);
  const seen = recorder(agent);
  const dev = await provision(bp);
  const device = await JobDevice.connect(bp.mqttUrl, dev);
  assert.ok((await request(agent, { kind: 'agent', id: 'kiosk' }, { op: 'claim', target: dev.id })).ok);
  await subscribe(agent, deviceTopic(dev.id, 'status'));
  const others: Dev[] = [];
  for (let i = 0; i < 20; i++) others.push(await provision(bp));

  // Claims in flight as the signal arrives: each either answered (then committed) or not answered.
  const answered: string[] = [];
  const claims = others.map((d) =>
    request(agent, { kind: 'agent', id: 'kiosk' }, { op: 'claim', target: d.id }, 15_000).then(
      (r) => void (r.ok && answered.push(d.id)),
      () => undefined,
    ),
  );
  await waitUntil(() => answered.length > 0, 15_000, 'the first claim of the burst answered');
  const exit = await bp.stop('SIGTERM');
  await Promise.all(claims);
  assert.equal(exit, { code: 0, signal: null }, bp.stderr.slice(-2000));
  const lines = bp.logLines();
  assert.ok(
    lines.some((l) => l.msg === 'stopped'),
    'it logged stopped',
  );
  assert.equal(
    lines.filter((l) => (l.level as number) >= 50).map((l) => l.msg),
    [],
    'no errors while draining',
  );
  await waitUntil(
    () => seen.some((m) => m.topic === deviceTopic(dev.id, 'status') && (m.json as any)?.reason === 'broker-restart'),
    10_000,
    'broker-restart presence at the agent',
  );
  await device.close();
  await end(agent);

  bp = await BrokerProcess.start(dir, ADMIN);
  const bindings = (await bp.api('GET', '/api/bindings')).body as { device: string; agent: string }[];
  for (const id of [dev.id, ...answered])
    assert.ok(
      bindings.some((b) => b.device === id && b.agent === 'kiosk'),
      `claim of ${id} was answered, so it is committed`,
    );
  console.log(`\ndrain: ${answered.length} of ${others.length} claims in flight were answered before the close`);
});

s.run();
