// A pool placement made through one node is a candidate on every node at once
// (docs/architecture.md, Locations and pools): a node that kept the pool's devices from before the
// placement let a job wait beside a free device until its next sweep. The sweep is pushed out of
// the way here, so only the candidates' read decides.
import * as assert from 'uvu/assert';
import { request } from '../helpers/broker';
import { clusterSuite } from '../helpers/cluster';
import { end } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

const { t, on } = clusterSuite('pool placement across nodes', { jobSweepMs: 600_000 });
const uniq = (p: string): string => `${p}-${Date.now() % 100000}-${Math.random().toString(36).slice(2, 6)}`;

on('a device placed through node 1 is leased by node 2 a moment later, without waiting for a sweep', async (cluster) => {
  const [n1, n2] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const location = uniq('hall');
  assert.is((await n1.api('POST', '/api/locations', { id: location, name: 'Hall' })).status, 201);
  const a = await cluster.agent(uniq('pa'), { node: 1 });
  assert.is((await n1.api('PATCH', `/api/agents/${a.id}`, { locations: [location] })).status, 200);
  const place = async () => {
    const d = await cluster.provision();
    const dev = await cluster.device(d, { node: 0 });
    await waitUntil(() => n2.ctx.presence.isOnline(d.id), 10_000, 'node 2 to see the device online');
    assert.is((await n1.api('PATCH', `/api/devices/${d.id}`, { location, mode: 'pool' })).status, 200);
    return { id: d.id, client: dev.client };
  };
  const submit = async (): Promise<{ device: string | null; position?: number | null }> => {
    const r = await request(a.client, { kind: 'agent', id: a.id }, { op: 'submit', pool: location, kind: 'identify', params: { seconds: 5 } });
    assert.ok(r.ok, JSON.stringify(r));
    return r.result as { device: string | null };
  };
  const first = await place();
  assert.is((await submit()).device, first.id, 'node 2 leases the one pool device');
  const second = await place();
  const next = await submit();
  assert.is(next.device, second.id, `node 2 leases the device node 1 placed a moment ago (got ${JSON.stringify(next)})`);
  await end(a.client, first.client, second.client);
});

t.run();
