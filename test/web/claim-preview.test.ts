// GET /api/claim-preview: what the claim screen shows before Claim. It resolves a target as a
// claim does (forged labels refused), tells an agent only "yours", "another agent's, since" or
// "free", and changes nothing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';

const test = suite('web: claim preview');
let tb: TestBroker | null = null;

test.after(async () => {
  await tb?.stop();
});

test('free, yours and another agent’s machine; forged label; no leak of the holder', async () => {
  tb = await TestBroker.start();
  const dev = await tb.provision(undefined, 'CT0700071');
  const label = (await tb.api('GET', '/api/labels/CT0700071')).body as { url: string; sig: string };
  const a = await tb.agent('pv-a');
  const bAgent = await tb.createAgent('pv-b');
  const bToken = await tb.login(bAgent.id, bAgent.password);
  const preview = (target: string, token: string) => tb!.api('GET', `/api/claim-preview?target=${encodeURIComponent(target)}`, undefined, token);

  const free = await preview(label.url, a.token);
  assert.is(free.status, 200);
  assert.equal(
    { ...free.body, presence: undefined },
    { device: dev.id, machineCode: 'CT0700071', model: 'test-board', presence: undefined, holder: null, since: null },
  );
  assert.is(free.body.presence.state, 'offline');

  const r = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: 'CT0700071' });
  assert.ok(r.ok);
  const mine = await preview('ct0700071', a.token);
  assert.is(mine.body.holder, 'you');
  const theirs = await preview(`CT0700071.${label.sig}`, bToken);
  assert.is(theirs.body.holder, 'other');
  assert.is(theirs.body.since, r.result.device.boundAt);
  assert.not.ok(JSON.stringify(theirs.body).includes('pv-a'), 'an agent is not told who holds it');
  const asAdmin = await preview(dev.id, tb.adminToken);
  assert.is(asAdmin.body.agent, 'pv-a');

  const forged = await preview('/c/CT0700071.0000000000000000', bToken);
  assert.is(forged.status, 404);
  assert.is(forged.body.error.code, 'UNKNOWN_MACHINE');
  const missing = await tb.api('GET', '/api/claim-preview', undefined, bToken);
  assert.is(missing.status, 400);
  assert.is(missing.body.error.field, 'target');
  assert.is((await tb.api('GET', `/api/devices/${dev.id}`)).body.agent, 'pv-a', 'previews change nothing');
  await end(a.client);
});

test.run();
