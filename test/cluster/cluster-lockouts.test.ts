// Login blocks hold across the cluster (docs/architecture.md, Identities: lockouts): failures
// counted on node A block on node B, admins on either node see and clear them, and the real
// device or user elsewhere is still let in on both nodes.
import { randomBytes } from 'node:crypto';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { clusterSuite } from '../helpers/cluster';
import { expectRestError } from '../helpers/errors';
import { connect, connectRefused, end } from '../helpers/mqtt';

const { t, on } = clusterSuite('login blocks on a two-node cluster', { trustProxy: true });
const ATTACKER = '203.0.113.9';
const HOME = '198.51.100.21';

const login = (httpUrl: string, id: string, password: string, ip: string) =>
  fetch(`${httpUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ id, password }),
  }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as any,
  }));

on('wrong device secrets on node A block that (device, address) on node B; the device itself connects on both', async (cluster) => {
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const d = await a.provision();
  for (let i = 0; i < 5; i++) await connectRefused(a.broker.mqttUrl, { clientId: d.id, username: d.id, password: `wrong-${i}`, localAddress: '127.0.0.2' });
  assert.match(
    (await connectRefused(b.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret, localAddress: '127.0.0.2' })).message,
    /Not authorized/,
    'node B refuses the blocked (device, address) although it saw none of the failures',
  );
  const blocks = (await b.api('GET', '/api/blocks')).body as any[];
  assert.ok(
    blocks.some((x) => x.subject === `device:${d.id}` && x.address === '127.0.0.2' && x.failures === 5),
    JSON.stringify(blocks),
  );

  const real = await connect(b.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret });
  assert.ok(real.connected, 'the device from its own address is let in');
  await end(real);

  // Cleared on node B, the block is gone on node A too.
  const cleared = await b.api('POST', '/api/blocks/clear', { subject: `device:${d.id}` });
  assert.ok(cleared.body.cleared >= 1, JSON.stringify(cleared.body));
  const again = await connect(a.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret, localAddress: '127.0.0.2' });
  assert.ok(again.connected);
  await end(again);
});

on('wrong passwords on node A lock the attacker out on node B, never the user from home', async (cluster) => {
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const victim = await cluster.createAgent(`cv-${randomBytes(3).toString('hex')}`, { password: 'victim-password' });
  for (let i = 0; i < 5; i++) expectRestError(await login(a.broker.httpUrl, victim.id, `guess-${i}`, ATTACKER), 401, ErrorCode.UNAUTHORIZED);
  expectRestError(await login(b.broker.httpUrl, victim.id, 'victim-password', ATTACKER), 429, ErrorCode.RATE_LIMITED);
  assert.is((await login(b.broker.httpUrl, victim.id, 'victim-password', HOME)).status, 200);
  assert.is((await login(a.broker.httpUrl, victim.id, 'victim-password', HOME)).status, 200);
  const unlocked = await b.api('POST', `/api/agents/${victim.id}/unlock`);
  assert.ok(unlocked.body.cleared >= 1, JSON.stringify(unlocked.body));
  assert.is((await login(a.broker.httpUrl, victim.id, 'victim-password', ATTACKER)).status, 200, 'unlocked on node B, let in on node A');
});

t.run();
