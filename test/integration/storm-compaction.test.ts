// A broker in its own process compacts its heap once after each burst of connects, logs what it
// gave back, and keeps serving; connects one at a time never cost it a pause.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { connectAdmin, request } from '../helpers/broker';
import { expectResponseError } from '../helpers/errors';
import { BrokerProcess } from '../helpers/broker-process';
import { metric } from '../helpers/metrics';
import { end, sleep } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

const STORM = 40;
const t = suite('compaction after a connect storm');
const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-storm-'));
const adminToken = randomBytes(24).toString('hex');
let b: BrokerProcess;
const clients: MqttClient[] = [];

t.before(async () => {
  b = await BrokerProcess.start(dataDir, adminToken, ['--storm-compaction', String(STORM)]);
});
t.after(async () => {
  await end(...clients);
  await b?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

const compactions = async (): Promise<number> => metric((await b.api<string>('GET', '/metrics')).body, 'fleetbind_heap_compactions_total');

interface Logged {
  connects: number;
  heapBefore: number;
  heapAfter: number;
  ms: number;
}
const logged = (): Logged[] => b.logLines().filter((l) => l.msg === 'heap compacted after a connect storm') as unknown as Logged[];

async function storm(n: number): Promise<void> {
  clients.push(...(await Promise.all(Array.from({ length: n }, () => connectAdmin(b.mqttUrl, adminToken)))));
}

t('a burst of connects is followed by one compaction, logged with what it gave back', async () => {
  assert.is(await compactions(), 0);
  await storm(STORM + 10);
  await waitUntil(async () => (await compactions()) === 1, 5000, 'the first compaction');
  // The log line travels on the child's stdout pipe, the metric on an HTTP socket: either may be read first.
  const entry = await waitUntil(
    () => logged()[0],
    5000,
    () => `the compaction log line in:\n${b.stdout.slice(-2000)}`,
  );
  // The burst lands within a tick or two; a connect that had a tick to itself before the rest is not counted in it.
  assert.ok(entry.connects >= STORM && entry.connects <= STORM + 10, `${entry.connects} connects`);
  assert.ok(entry.heapBefore > 0 && entry.heapAfter > 0 && entry.ms >= 0, JSON.stringify(entry));
  // Serving as before: an admin request on a connection from the storm is answered.
  expectResponseError(await request(clients[0]!, { kind: 'admin', id: 'ops' }, { op: 'release', device: 'no-such-device', reason: 'r' }), ErrorCode.NOT_FOUND);
});

t('connects one at a time never build a storm', async () => {
  for (let i = 0; i < 4; i++) {
    clients.push(await connectAdmin(b.mqttUrl, adminToken));
    await sleep(600);
  }
  await sleep(1200);
  assert.is(await compactions(), 1);
});

t('the next storm is compacted again', async () => {
  await storm(STORM + 10);
  await waitUntil(async () => (await compactions()) === 2, 5000, 'the second compaction');
  await waitUntil(
    () => logged().length === 2,
    5000,
    () => `the second compaction log line; ${logged().length} logged`,
  );
});

t.run();
