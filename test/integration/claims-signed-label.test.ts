// requireSignedLabel (docs/architecture.md, Bindings): a fleet that demands physical presence
// refuses claims by a typed machine code or device id, and still takes the signed label and the
// rotating claim code from the device's screen. Over MQTT against a real broker.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseOptions } from '../../broker/config';
import { TestBroker, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';

const t = suite('claims: requireSignedLabel');

t('typed codes and device ids are refused; the label and the on-screen claim code are accepted', async () => {
  assert.is(parseOptions(['--require-signed-label'], {}).requireSignedLabel, true);
  assert.is(parseOptions([], { FLEETBIND_REQUIRE_SIGNED_LABEL: 'true' }).requireSignedLabel, true);
  const tb = await TestBroker.start({ requireSignedLabel: true });
  try {
    const a = await tb.agent('sl-1');
    const who = { kind: 'agent' as const, id: a.id };
    const d1 = await tb.provision(undefined, 'CT0700071');
    const d2 = await tb.provision(undefined, 'CT0700072');
    for (const target of ['CT0700071', d1.id]) {
      const r = await request(a.client, who, { op: 'claim', target });
      assert.is(r.ok, false, `claim by ${target} was accepted`);
      assert.is(r.error.code, 'FORBIDDEN');
      assert.match(r.error.message, /requires proof of presence/);
    }
    const unknown = await request(a.client, who, { op: 'claim', target: 'CT9999999' });
    assert.is(unknown.error.code, 'FORBIDDEN', 'a refused typed code does not say whether the machine exists');
    assert.is((await tb.api('GET', `/api/devices/${d1.id}`)).body.agent, null, 'nothing changed');

    const label = (await tb.api('GET', '/api/labels/CT0700071')).body.url as string;
    const byLabel = await request(a.client, who, { op: 'claim', target: new URL(label).pathname });
    assert.ok(byLabel.ok, JSON.stringify(byLabel));

    const screen = await tb.device(d2);
    assert.type(screen.config.claimCode, 'string');
    const byCode = await request(a.client, who, { op: 'claim', code: screen.config.claimCode });
    assert.ok(byCode.ok, JSON.stringify(byCode));
    assert.is(byCode.result.device.id, d2.id);
    await end(a.client, screen.client);
  } finally {
    await tb.stop();
  }
});

t.run();
