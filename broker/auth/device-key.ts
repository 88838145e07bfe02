// The server key device secrets are hashed under. A single node keeps it in its data dir, beside
// the registry but not in it; a cluster keeps it in the shared registry so every node agrees.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { ensureKv } from '../store/kv';
import type { Database } from '../store/schema';

export const DEVICE_KEY_FILE = 'device-secret.key';

function parseKey(hex: string, where: string): Buffer {
  const key = Buffer.from(hex.trim(), 'hex');
  if (key.length !== 32) throw new Error(`the device secret key in ${where} is not 64 hex digits`);
  return key;
}

function keyFromFile(dataDir: string): Buffer {
  const file = join(dataDir, DEVICE_KEY_FILE);
  try {
    // wx: of two processes starting on one data dir, only the first creates it.
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return parseKey(readFileSync(file, 'utf8'), file);
}

export async function deviceSecretKey(db: Kysely<Database>, dataDir: string, shared: boolean): Promise<Buffer> {
  if (!shared) return keyFromFile(dataDir);
  return parseKey(await ensureKv(db, 'device_secret_key', randomBytes(32).toString('hex')), 'the registry (kv device_secret_key)');
}
