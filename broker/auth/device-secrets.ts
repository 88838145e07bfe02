// Device secrets are 256-bit random values the broker issued itself, so a slow KDF protects
// nothing that guessing could reach; it only made a fleet reconnecting after a restart wait for
// scrypt, about 4 ms of CPU per device. They are stored as HMAC-SHA-256 under a server key
// (see docs/architecture.md, Identities), which costs microseconds and still gives nothing
// usable to someone who reads the registry without the key. Human passwords keep scrypt.
import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'hmac-sha256$';

/** The stored form of a device's secret; the device id is in the MAC, so no hash fits another device. */
export function deviceSecretHash(key: Buffer, device: string, secret: string): string {
  return PREFIX + createHmac('sha256', key).update(`${device}\n${secret}`).digest('base64url');
}

/** False for the scrypt hashes older brokers stored. */
export function isKeyedHash(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** Constant-time check of a secret against a keyed hash. */
export function matchesKeyedHash(key: Buffer, device: string, secret: string, stored: string): boolean {
  const actual = Buffer.from(deviceSecretHash(key, device, secret));
  const expected = Buffer.from(stored);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
