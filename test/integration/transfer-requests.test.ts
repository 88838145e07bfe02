// Transfer requests (docs/architecture.md, Transfer requests): an agent refused with BOUND_TO_OTHER
// asks for the machine; admins are told on fb/v1/admin/transfer-requests and decide over REST; the
// requester hears the decision on its own res topic. Real MQTT and REST against a real broker.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker, request } from '../helpers/broker';
import { connect, end, recorder, subscribe, waitFor } from '../helpers/mqtt';

const t = suite('transfer requests');

const ADMIN_TOPIC = 'fb/v1/admin/transfer-requests';

t('request, admins notified, approve transfers with an audit, decline, duplicates and isolation', async () => {
  const tb = await TestBroker.start();
  try {
    const holder = await tb.agent('xf-holder');
    const asker = await tb.agent('xf-asker');
    const bystander = await tb.agent('xf-bystander');
    const d1 = await tb.provision(undefined, 'CT0700081');
    const d2 = await tb.provision(undefined, 'CT0700082');
    await tb.provision(undefined, 'CT0700083');
    for (const d of [d1, d2]) assert.ok((await request(holder.client, { kind: 'agent', id: holder.id }, { op: 'claim', target: d.id })).ok);
    const conflict = await request(asker.client, { kind: 'agent', id: asker.id }, { op: 'claim', target: 'CT0700081' });
    assert.is(conflict.error.code, 'BOUND_TO_OTHER');

    const admin = await connect(tb.broker.mqttUrl, { clientId: 'admin:ops:xf', username: 'admin:ops', password: tb.adminToken });
    await subscribe(admin, ADMIN_TOPIC);
    const adminSeen = recorder(admin);
    const holderSeen = recorder(holder.client);
    const bystanderSeen = recorder(bystander.client);
    // An agent may not listen on the admin tree, not even by naming it exactly.
    await subscribe(bystander.client, [ADMIN_TOPIC, 'fb/v1/admin/#']);

    // Refusals: a free machine, one the agent holds, an unknown one, and a bad body.
    const onFree = await tb.api('POST', '/api/transfer-requests', { code: 'CT0700083' }, asker.token);
    assert.equal([onFree.status, onFree.body.error.code], [409, 'NOT_BOUND']);
    assert.match(onFree.body.error.message, /free.*claim it/);
    const onOwn = await tb.api('POST', '/api/transfer-requests', { device: d1.id }, holder.token);
    assert.equal([onOwn.status, onOwn.body.error.code], [409, 'CONFLICT']);
    assert.match(onOwn.body.error.message, /already hold/);
    assert.is((await tb.api('POST', '/api/transfer-requests', { code: 'CT9999999' }, asker.token)).body.error.code, 'UNKNOWN_MACHINE');
    assert.is((await tb.api('POST', '/api/transfer-requests', {}, asker.token)).status, 400);
    assert.is((await tb.api('POST', '/api/transfer-requests', { device: d1.id })).body.error.code, 'FORBIDDEN', 'admins approve, they do not ask');

    // The request: stored, audited, announced to admins; the requester never sees the holder.
    const notified = waitFor<any>(admin, (topic, j) => topic === ADMIN_TOPIC && j.event === 'transfer.requested');
    const created = await tb.api('POST', '/api/transfer-requests', { code: 'CT0700081', note: 'my shift starts' }, asker.token);
    assert.is(created.status, 201, JSON.stringify(created.body));
    const req1 = created.body;
    assert.equal([req1.device, req1.machineCode, req1.state, req1.note], [d1.id, 'CT0700081', 'open', 'my shift starts']);
    assert.not.ok(JSON.stringify(req1).includes(holder.id), 'the holder is not shown to the requester');
    const note = (await notified).json;
    assert.equal([note.request.id, note.request.agent, note.request.holder, note.request.device], [req1.id, asker.id, holder.id, d1.id]);
    const audit = (await tb.api('GET', `/api/audit?device=${d1.id}`)).body as any[];
    const requested = audit.find((r) => r.action === 'transfer.requested');
    assert.equal(
      [requested?.actor, requested?.agent, requested?.detail.request, requested?.detail.holder],
      [`agent:${asker.id}`, asker.id, req1.id, holder.id],
    );

    const dup = await tb.api('POST', '/api/transfer-requests', { device: d1.id }, asker.token);
    assert.equal([dup.status, dup.body.error.code], [409, 'CONFLICT']);
    assert.match(dup.body.error.message, new RegExp(`already asked.*${req1.id}`));

    const req2 = (await tb.api('POST', '/api/transfer-requests', { device: d2.id }, asker.token)).body;
    assert.is(req2.state, 'open');

    // Lists: admins see all open ones with the holder; an agent its own only, without the holder.
    const open = (await tb.api('GET', '/api/transfer-requests?state=open')).body as any[];
    assert.equal(open.map((r) => r.id).sort(), [req1.id, req2.id].sort());
    assert.ok(open.every((r) => r.holder === holder.id));
    const mine = (await tb.api('GET', '/api/transfer-requests', undefined, asker.token)).body as any[];
    assert.equal(mine.map((r) => r.id).sort(), [req1.id, req2.id].sort());
    assert.ok(mine.every((r) => r.holder === undefined && r.agent === undefined));
    assert.equal((await tb.api('GET', '/api/transfer-requests', undefined, bystander.token)).body, []);
    assert.is((await tb.api('GET', '/api/transfer-requests?state=maybe')).body.error.code, 'BAD_PARAMS');
    assert.is((await tb.api('POST', `/api/transfer-requests/${req1.id}/approve`, {}, asker.token)).body.error.code, 'FORBIDDEN');

    // Approve: the device moves, audited as a transfer with the request as its reason; the requester is told.
    const toldApproved = waitFor<any>(
      asker.client,
      (topic, j) => topic === `fb/v1/a/${asker.id}/res` && j.event === 'transfer.decided' && j.request?.id === req1.id,
    );
    const adminApproved = waitFor<any>(admin, (topic, j) => topic === ADMIN_TOPIC && j.event === 'transfer.approved' && j.request?.id === req1.id);
    const approved = await tb.api('POST', `/api/transfer-requests/${req1.id}/approve`, {});
    assert.is(approved.status, 200, JSON.stringify(approved.body));
    assert.equal([approved.body.state, approved.body.decidedBy], ['approved', 'admin:token']);
    assert.is((await tb.api('GET', `/api/devices/${d1.id}`)).body.agent, asker.id);
    const told = (await toldApproved).json;
    assert.equal([told.request.state, told.request.device, told.request.machineCode], ['approved', d1.id, 'CT0700081']);
    assert.not.ok(JSON.stringify(told).includes(holder.id), 'the decision does not name the former holder');
    await adminApproved;
    const after = (await tb.api('GET', `/api/audit?device=${d1.id}`)).body as any[];
    const transfer = after.find((r) => r.action === 'transfer');
    assert.equal(
      [transfer?.actor, transfer?.detail.from, transfer?.detail.to, transfer?.detail.reason],
      ['admin:token', holder.id, asker.id, `transfer request ${req1.id}`],
    );
    assert.ok(after.some((r) => r.action === 'transfer.approved' && r.detail.request === req1.id));
    assert.is((await tb.api('POST', `/api/transfer-requests/${req1.id}/approve`, {})).body.error.code, 'CONFLICT', 'a decided request is not decided again');

    // Decline: nothing moves, the reason reaches the requester.
    const toldDeclined = waitFor<any>(
      asker.client,
      (topic, j) => topic === `fb/v1/a/${asker.id}/res` && j.event === 'transfer.decided' && j.request?.id === req2.id,
    );
    const declined = await tb.api('POST', `/api/transfer-requests/${req2.id}/decline`, { reason: 'needed on the line' });
    assert.equal([declined.status, declined.body.state, declined.body.reason], [200, 'declined', 'needed on the line']);
    assert.equal([(await toldDeclined).json.request.state, (await toldDeclined).json.request.reason], ['declined', 'needed on the line']);
    assert.is((await tb.api('GET', `/api/devices/${d2.id}`)).body.agent, holder.id);
    assert.ok(
      ((await tb.api('GET', `/api/audit?device=${d2.id}`)).body as any[]).some(
        (r) => r.action === 'transfer.declined' && r.detail.reason === 'needed on the line',
      ),
    );
    // Decided requests leave the open list, and a new request for the same machine is allowed.
    assert.equal((await tb.api('GET', '/api/transfer-requests?state=open')).body, []);
    assert.is((await tb.api('POST', '/api/transfer-requests', { device: d2.id }, asker.token)).status, 201);
    assert.is((await tb.api('POST', '/api/transfer-requests/nope/approve', {})).body.error.code, 'NOT_FOUND');

    // Isolation: a barrier through each client's own res, then nothing about requests reached the others.
    for (const a of [holder, bystander]) assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'list' })).ok);
    const leaked = [...holderSeen, ...bystanderSeen].filter((m) => m.topic.startsWith('fb/v1/admin') || m.text.includes('transfer.'));
    assert.equal(leaked, []);
    assert.ok(adminSeen.filter((m) => m.topic === ADMIN_TOPIC).length >= 4, 'admins saw requests and decisions');
    await end(holder.client, asker.client, bystander.client, admin);
  } finally {
    await tb.stop();
  }
});

t.run();
