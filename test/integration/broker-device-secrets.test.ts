// Device secrets are verified with HMAC-SHA-256 under a server key kept in the data dir; a hash
// stored by an older broker (scrypt) still logs the device in, and that login replaces it with the
// HMAC form. A wrong secret is refused either way and migrates nothing.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hashSecret } from '../../broker/auth/secrets';
import { TestBroker } from '../helpers/broker';
import { connectRefused, end } from '../helpers/mqtt';
import type { Dev } from '../scenarios/fleet';

/** The scrypt cost brokers stored device secrets with before the keyed hash. */
const OLD_DEVICE_SECRET_COST = { N: 2048, r: 8, p: 1 };

const t = suite<{ tb: TestBroker }>('broker: device secrets');

t.before(async (c) => {
  c.tb = await TestBroker.start();
});
t.after(async (c) => {
  await c.tb.stop();
});

const storedHash = async (tb: TestBroker, id: string): Promise<string> =>
  (await tb.ctx.db.selectFrom('devices').select('secret_hash').where('id', '=', id).executeTakeFirstOrThrow()).secret_hash;

/** The secret with its last character changed, so it is never the secret itself. */
const oneCharOff = (secret: string): string => `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;

const refusedWith = async (tb: TestBroker, d: Dev, password: string): Promise<string> => {
  const err = await connectRefused(tb.broker.mqttUrl, { clientId: d.id, username: d.id, password, reconnectPeriod: 0 });
  return err.message;
};

t('a provisioned device is stored as an HMAC of its secret, logs in with it and not with another', async ({ tb }) => {
  const d = await tb.provision();
  const stored = await storedHash(tb, d.id);
  assert.match(stored, /^hmac-sha256\$[A-Za-z0-9_-]{43}$/, stored);
  assert.not.ok(stored.includes(d.secret));
  const { client } = await tb.device(d);
  await end(client);
  assert.match(await refusedWith(tb, d, oneCharOff(d.secret)), /Bad username or password|bad user name or password/i);
});

t('the server key lives in the data dir, readable by its owner only', async ({ tb }) => {
  const file = join(tb.dataDir, 'device-secret.key');
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.ok(readFileSync(file, 'utf8').trim().length >= 64);
});

t('a scrypt hash from an older registry logs the device in and is replaced by the HMAC on that login; a wrong secret migrates nothing', async ({ tb }) => {
  const d = await tb.provision();
  const legacy = await hashSecret(d.secret, OLD_DEVICE_SECRET_COST);
  await tb.ctx.db.updateTable('devices').set({ secret_hash: legacy }).where('id', '=', d.id).execute();

  assert.match(await refusedWith(tb, d, 'not-the-secret'), /Bad username or password|bad user name or password/i);
  assert.is(await storedHash(tb, d.id), legacy, 'a failed login leaves the old hash');

  const { client } = await tb.device(d);
  await end(client);
  const migrated = await storedHash(tb, d.id);
  assert.match(migrated, /^hmac-sha256\$/, migrated);

  // The migrated hash works, and still only for the right secret.
  const again = await tb.device(d);
  await end(again.client);
  assert.match(await refusedWith(tb, d, 'not-the-secret'), /Bad username or password|bad user name or password/i);
  assert.is(await storedHash(tb, d.id), migrated);
});

t('devices log in again after a restart on the same data dir (the key persists)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-secrets-'));
  try {
    const first = await TestBroker.start({ dataDir });
    const d = await first.provision();
    const key = readFileSync(join(dataDir, 'device-secret.key'), 'utf8');
    await first.stop();
    const again = await TestBroker.start({ dataDir });
    try {
      assert.is(readFileSync(join(dataDir, 'device-secret.key'), 'utf8'), key);
      const { client } = await again.device(d);
      await end(client);
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

t.run();
