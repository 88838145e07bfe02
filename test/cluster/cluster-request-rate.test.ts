// The per-agent request limit is one bucket across cluster nodes (docs/architecture.md, Request
// rate limits): an agent connected to both nodes gets no more than one burst between them.
import * as assert from 'uvu/assert';
import { clusterSuite } from '../helpers/cluster';
import { connectAgent } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { blast } from '../helpers/blast';

const { t, on } = clusterSuite('request rate limits on a two-node cluster', { agentRequestRate: 1, agentRequestBurst: 10 });

on('an agent sending on both nodes shares one per-agent bucket', async (cluster) => {
  const a = await cluster.agent(`both-${Date.now() % 100000}`, { node: 0 });
  const other = await connectAgent(cluster.members[1]!.broker.mqttUrl, a.id, a.token);
  const started = performance.now();
  const [one, two] = await Promise.all([blast(a.client, a.id, 15, 'n0-'), blast(other, a.id, 15, 'n1-')]);
  const elapsedS = (performance.now() - started) / 1000;
  const ok = [...one, ...two].filter((r) => r.ok).length;
  const limited = [...one, ...two].filter((r) => r.error?.code === 'RATE_LIMITED').length;
  assert.is(ok + limited, 30);
  // Two separate buckets would answer 20; one shared bucket answers the burst plus what refilled.
  assert.ok(ok <= 10 + Math.ceil(elapsedS) + 1, `${ok} ok in ${elapsedS.toFixed(2)} s`);
  await end(a.client, other);
});

t.run();
