// Cluster scenarios: the single-node scenarios (isolation matrix, claim races, live
// revocation) run unchanged on a two-node cluster, with agents and devices on both nodes.
import { clusterSuite } from '../helpers/cluster';
import { hundredAgentsOneDevice, manyAgentsManyDevices } from '../scenarios/claims-race';
import { identityChecks, isolationMatrix } from '../scenarios/isolation';
import { transferCutsOffOldAgent } from '../scenarios/revocation';

const { t, on } = clusterSuite('scenarios on a two-node cluster');

on('isolation matrix: agents over TCP, devices over TCP, on both nodes', (cluster) => isolationMatrix(cluster, 'tcp', 'tcp'));
on('isolation matrix: agents over WebSocket, devices over TCP, on both nodes', (cluster) => isolationMatrix(cluster, 'ws', 'tcp'));
on('isolation matrix: agents over TCP, devices over WebSocket, on both nodes', (cluster) => isolationMatrix(cluster, 'tcp', 'ws'));
on('device and agent identities cannot be borrowed on either node', async (cluster) => {
  for (const m of cluster.members) await identityChecks(cluster, m.broker.mqttUrl);
});
on('100 agents spread over both nodes claim one free device at once: exactly one wins', (cluster) => hundredAgentsOneDevice(cluster));
on('200 agents on both nodes claim 50 devices at random: never two agents on a device, every ACL map agrees', (cluster) => manyAgentsManyDevices(cluster));
on("cross-node revocation: A subscribed on node 1, the device and the admin's transfer on node 2", (cluster) =>
  transferCutsOffOldAgent(cluster, cluster.members[1]!.broker.mqttUrl, cluster.adminToken),
);

t.run();
