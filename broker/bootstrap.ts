// First run: the fleet label key and an initial admin credential. The credential is printed once
// to the terminal (never to the log) and kept in a 0600 file in the data dir until rotated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PASSWORD_COST, hashSecret, randomToken } from './auth/secrets';
import { countAdmins, createAdmin } from './store/accounts';
import { ensureKv } from './store/kv';
import type { Database } from './store/schema';

/** Where the first-run admin credential is kept, in the data dir. */
export const INITIAL_ADMIN_FILE = 'initial-admin.txt';

export interface Bootstrap {
  labelKey: string;
  firstAdmin: { username: string; password: string; file: string } | null;
}

export async function bootstrap(db: Kysely<Database>, dataDir: string, now: number): Promise<Bootstrap> {
  const labelKey = await ensureKv(db, 'label_key', randomBytes(32).toString('hex'));
  if ((await countAdmins(db)) > 0) return { labelKey, firstAdmin: null };
  const password = randomToken(18);
  await createAdmin(db, 'admin', await hashSecret(password, PASSWORD_COST), 'system:first-run', now);
  const file = join(dataDir, INITIAL_ADMIN_FILE);
  writeFileSync(file, `username: admin:admin\npassword: ${password}\n`, { mode: 0o600 });
  return { labelKey, firstAdmin: { username: 'admin:admin', password, file } };
}
