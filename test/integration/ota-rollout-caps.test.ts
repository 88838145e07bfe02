// A rollout targets only devices that take updates (docs/architecture.md, Over-the-air updates):
// one that announced what it runs without `ota` would refuse the job, so it is left out; one that
// has never said hello has announced nothing yet and stays in. A target with no device that takes
// updates is refused, naming why, and no rollout is made.
import { generateKeyPairSync } from 'node:crypto';
import * as assert from 'uvu/assert';
import { otaDb } from '../../broker/ota/schema';
import { rawPublicKey } from '../../host-tools/release/keys';
import { TestBroker } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { uploadRelease } from '../helpers/releases';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const key = generateKeyPairSync('ed25519');
const t = suite('OTA: rollouts leave out devices that do not take updates');

t('a device that announced no ota is left out, one never seen stays in, and a target of only the first is refused', async () => {
  const tb = await TestBroker.start({ releasePublicKeys: [rawPublicKey(key.publicKey).toString('base64')] });
  try {
    const [updatable, refusing, unseen] = [await tb.provision(), await tb.provision(), await tb.provision()];
    const connected = [await tb.device(updatable, {}, { caps: ['identify', 'ota'] }), await tb.device(refusing, {}, { caps: ['identify'] })];
    const capsOf = async (id: string): Promise<string[]> => (await tb.api('GET', `/api/devices/${id}`)).body.caps;
    await waitUntil(
      async () => (await capsOf(updatable.id)).includes('ota') && (await capsOf(refusing.id)).includes('identify'),
      5_000,
      'both hellos recorded',
    );

    await uploadRelease(tb.broker.httpUrl, tb.adminToken, key.privateKey, {
      version: '9.9.9',
      models: ['test-board'],
      image: Buffer.from('fleetbind test image'),
    });

    const rollout = (devices: string[]) => tb.api('POST', '/api/rollouts', { release: '9.9.9', target: { devices }, waves: [100], maxFailurePercent: 100 });
    const refused = await rollout([refusing.id]);
    assert.is(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, /takes updates \(announces 'ota'\)/);
    assert.equal((await tb.api('GET', '/api/rollouts')).body, [], 'nothing was made');

    const created = await rollout([updatable.id, refusing.id, unseen.id]);
    assert.is(created.status, 201, JSON.stringify(created.body));
    assert.is(created.body.total, 2);
    const targets = await otaDb(tb.ctx.db).selectFrom('rollout_devices').select('device').where('rollout', '=', created.body.id).execute();
    assert.equal(targets.map((r) => r.device).sort(), [updatable.id, unseen.id].sort());
    await end(...connected.map((c) => c.client));
  } finally {
    await tb.stop();
  }
});

t.run();
