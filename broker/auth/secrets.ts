// Hashing of passwords and bearer tokens. Passwords use scrypt (stored as scrypt$N$r$p$salt$hash),
// as did device secrets before they moved to a keyed hash (auth/device-secrets.ts); random bearer
// tokens use SHA-256, which is enough for 256-bit random values and lets the registry look a token
// up by its hash.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}
/** Human-chosen passwords: costly to brute-force. */
export const PASSWORD_COST: ScryptCost = { N: 16384, r: 8, p: 1 };

function scryptAsync(secret: string, salt: Buffer, c: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, { N: c.N, r: c.r, p: c.p, maxmem: 128 * c.N * c.r * 2 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashSecret(secret: string, cost: ScryptCost): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(key, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A random value in base64url. Every one may be pasted into a shell: passwords, enrollment tokens
 * (`simulate --enroll-token`, `flash`), API and webhook secrets. base64url may begin with '-',
 * which a command line then reads as an option (`--enroll-token -x…` fails), so that draw is
 * redrawn (one draw in 64, which costs under 0.03 bits of the value's entropy).
 */
export function randomToken(bytes = 32): string {
  for (;;) {
    const token = randomBytes(bytes).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
