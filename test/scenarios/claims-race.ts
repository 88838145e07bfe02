// Claim races: many agents claim at the same instant; exactly one wins per
// device, and the database and every node's ACL map agree.
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { request } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import type { Fleet } from './fleet';

type Agent = { client: MqttClient; id: string };

async function agents(fleet: Fleet, n: number, prefix: string): Promise<Agent[]> {
  const out: Agent[] = [];
  // Logins hash passwords with scrypt; a few at a time keeps the event loop responsive.
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => fleet.agent(`${prefix}-${i + k}`, { node: (i + k) % fleet.nodes })));
    out.push(...batch);
  }
  return out;
}

async function assertConsistent(fleet: Fleet, devices: string[], winners: Map<string, string>): Promise<void> {
  for (const device of devices) {
    const r = await fleet.api('GET', `/api/devices/${device}`);
    assert.is(r.status, 200);
    assert.is(r.body.agent, winners.get(device) ?? null, `DB agent of ${device}`);
    assert.equal(fleet.aclAgentOf(device), Array(fleet.nodes).fill(winners.get(device) ?? null), `ACL maps for ${device}`);
    const audit = await fleet.api('GET', `/api/audit?device=${device}`);
    const claims = audit.body.filter((e: any) => e.action === 'claim');
    assert.is(claims.length, winners.has(device) ? 1 : 0, `claim audit rows for ${device}`);
  }
}

export async function hundredAgentsOneDevice(fleet: Fleet): Promise<void> {
  const dev = await fleet.provision(undefined, `RACE${Date.now() % 100000}`);
  const crowd = await agents(fleet, 100, `racer${Math.random().toString(36).slice(2, 6)}`);
  const results = await Promise.all(
    crowd.map((a) => request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: dev.id }, 15000).then((r) => ({ a, r }))),
  );
  const won = results.filter((x) => x.r.ok);
  const lost = results.filter((x) => !x.r.ok);
  assert.is(won.length, 1, `winners: ${won.map((w) => w.a.id)}`);
  assert.is(lost.length, 99);
  for (const { r } of lost) {
    assert.is(r.error.code, 'BOUND_TO_OTHER');
    assert.type(r.error.since, 'number');
    assert.is(r.error.agent, undefined, 'the holder is shown to admins only');
  }
  await assertConsistent(fleet, [dev.id], new Map([[dev.id, won[0]!.a.id]]));
  // Claiming again is idempotent for the winner and still refused for everyone else.
  const again = await request(won[0]!.a.client, { kind: 'agent', id: won[0]!.a.id }, { op: 'claim', target: dev.id });
  assert.ok(again.ok && again.result.already === true);
  await end(...crowd.map((a) => a.client));
}

export async function manyAgentsManyDevices(fleet: Fleet, deviceCount = 50, agentCount = 200): Promise<void> {
  const devices = await Promise.all(Array.from({ length: deviceCount }, () => fleet.provision()));
  const crowd = await agents(fleet, agentCount, `mob${Math.random().toString(36).slice(2, 6)}`);
  const attempts = crowd.flatMap((a) =>
    Array.from({ length: 3 }, () => {
      const d = devices[Math.floor(Math.random() * devices.length)]!;
      return request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id }, 20000).then((r) => ({ agent: a.id, device: d.id, r }));
    }),
  );
  const results = await Promise.all(attempts);
  const winners = new Map<string, string>();
  for (const { agent, device, r } of results) {
    if (r.ok) {
      const prev = winners.get(device);
      assert.ok(prev === undefined || prev === agent, `${device} was won by ${prev} and ${agent}`);
      winners.set(device, agent);
    } else {
      assert.ok(['BOUND_TO_OTHER', 'LIMIT'].includes(r.error.code), `unexpected refusal ${JSON.stringify(r.error)}`);
    }
  }
  assert.ok(winners.size > 0);
  await assertConsistent(
    fleet,
    devices.map((d) => d.id),
    winners,
  );
  await end(...crowd.map((a) => a.client));
}
