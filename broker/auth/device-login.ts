// Checks a connecting device's secret. A keyed hash is checked at once; a scrypt hash stored by an
// older broker goes through the hash queue once more, and on success is replaced by the keyed
// hash, so each device pays for scrypt at most once after the upgrade.
import type { Context } from '../context';
import { type DeviceLogin, replaceSecretHash } from '../store/devices';
import { deviceSecretHash, isKeyedHash, matchesKeyedHash } from './device-secrets';
import { verifySecret } from './secrets';

/** What this module reads of the node's context. */
export type DeviceLoginContext = Pick<Context, 'deviceKey' | 'hashes' | 'log' | 'writer'>;

/**
 * Resolves with the hash stored for the device once the secret is right, false when it is wrong,
 * null when `wanted` turned false while the check waited for scrypt.
 */
export async function verifyDeviceSecret(ctx: DeviceLoginContext, row: DeviceLogin, secret: string, wanted: () => boolean): Promise<string | false | null> {
  if (isKeyedHash(row.secret_hash)) return matchesKeyedHash(ctx.deviceKey, row.id, secret, row.secret_hash) ? row.secret_hash : false;
  const ok = await ctx.hashes.run(() => verifySecret(secret, row.secret_hash), wanted);
  if (ok !== true) return ok;
  const keyed = deviceSecretHash(ctx.deviceKey, row.id, secret);
  // Only if the device still has the secret just checked: a re-provisioning meanwhile wins.
  if (!(await ctx.writer.write((trx) => replaceSecretHash(trx, row.id, row.secret_hash, keyed)))) return false;
  ctx.log.info({ device: row.id }, 'device secret hash moved from scrypt to HMAC');
  return keyed;
}
