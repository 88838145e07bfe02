// A rollout survives the node driving it (docs/architecture.md, Over-the-air updates): two broker
// processes on PostgreSQL and Redis, a simulated fleet on node 2, a rollout created (and so first
// driven) on node 1, which is killed with SIGKILL mid-wave. Node 2 takes the lease over and
// finishes; no device is sent a second try, and every device installs the release exactly once.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { rawPublicKey } from '../../host-tools/release/keys';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { type Backends, adminQuery, freshBackends, requireBackends } from '../helpers/backends';
import { BrokerProcess } from '../helpers/broker-process';
import { closedPort } from '../helpers/ports';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';
import { uploadRelease } from '../helpers/releases';

const DEVICES = 40;
const ADMIN = randomBytes(24).toString('hex');
const keys = generateKeyPairSync('ed25519');
const PUB = rawPublicKey(keys.publicKey).toString('base64');

const t = suite<{ backends?: Backends | Error; nodes: BrokerProcess[]; dirs: string[]; fleet?: SimFleet }>('OTA rollout across a node failure', {
  nodes: [],
  dirs: [],
});
t.before(async (c) => {
  c.backends = await freshBackends();
  if (c.backends instanceof Error) return;
  // Devices download from node 2's address (a load balancer's, in a real fleet), which outlives node 1.
  const port2 = await closedPort();
  const flags = [
    '--database-url',
    c.backends.databaseUrl,
    '--redis-url',
    c.backends.redisUrl,
    '--redis-prefix',
    c.backends.redisPrefix,
    '--release-public-keys',
    PUB,
    '--ota-tick-ms',
    '200',
    '--ota-ack-timeout-ms',
    '3000',
    '--public-url',
    `http://127.0.0.1:${port2}`,
  ];
  for (const extra of [[], ['--http-port', String(port2)]]) {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbind-ota-node-'));
    c.dirs.push(dir);
    c.nodes.push(await BrokerProcess.start(dir, ADMIN, [...flags, ...extra]));
  }
});
t.after(async (c) => {
  c.fleet?.stop();
  for (const n of c.nodes) await n.kill();
  for (const d of c.dirs) rmSync(d, { recursive: true, force: true });
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

t('SIGKILL the driving node mid-wave: the other node takes over, no device gets a second command, all confirm', async (c) => {
  requireBackends(c.backends);
  const [n1, n2] = c.nodes as [BrokerProcess, BrokerProcess];
  const fleet = startFleet(n2.mqttUrl, {
    devices: DEVICES,
    enrollToken: await enrollmentToken(n2, DEVICES),
    machinesPrefix: 'OTC',
    ota: { capacity: 1 << 20, releaseKeys: PUB },
  });
  c.fleet = fleet;
  await fleet.waitFor((s) => s.registered === DEVICES && s.connected === DEVICES, 90_000, 'the fleet enrolled and online');

  const image = randomBytes(200_000);
  await uploadRelease(n1.httpUrl, ADMIN, keys.privateKey, { version: '2.0.0', models: ['fleetbind-sim'], image });

  const created = await n1.api('POST', '/api/rollouts', {
    release: '2.0.0',
    target: { all: true },
    waves: [50, 100],
    waveSoakMinutes: 0.05,
    maxFailurePercent: 10,
  });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  const firstDriver = created.body.driver as string;
  assert.ok(firstDriver, 'the creating node drives it');
  await waitUntil(async () => (await n2.api('GET', `/api/rollouts/${id}`)).body.counts.confirmed >= 3, 60_000, 'a few devices of wave 1 confirmed', 50);
  const mid = (await n2.api('GET', `/api/rollouts/${id}`)).body;
  assert.ok(mid.counts.confirmed < DEVICES / 2 + 1 && mid.wave === 0, `killed mid-wave: ${JSON.stringify(mid.counts)}`);
  await n1.stop('SIGKILL');

  let last: any;
  const done = await waitUntil(
    async () => {
      last = (await n2.api('GET', `/api/rollouts/${id}`)).body;
      return last.state === 'done' ? last : undefined;
    },
    120_000,
    () => `the rollout to finish on node 2: ${JSON.stringify(last)}`,
    200,
  );
  assert.is(done.counts.confirmed, DEVICES);
  assert.ok(done.driver !== firstDriver, `node 2 took it over (driver ${done.driver})`);
  const tries = await adminQuery(c.backends.databaseUrl, 'select device, tries, state from rollout_devices where rollout = $1', [id]);
  assert.is(tries.rows.length, DEVICES);
  assert.equal(
    tries.rows.filter((r) => Number(r.tries) !== 1),
    [],
    'one command (one try) per device for the wave',
  );
  assert.is(fleet.restarts, DEVICES, 'every device installed and restarted exactly once');
  assert.ok(fleet.devices.every((d) => d.fw === '2.0.0'));
});

t.run();
