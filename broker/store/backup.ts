// Online backups and restores of the registry (docs/architecture.md, Backup and restore).
// SQLite: SQLite's own backup API on a second connection to the live file, so the broker keeps
// writing while it runs and the copy is one consistent snapshot; the data dir's device secret
// key goes into the copy (kv `device_secret_key`), so one file restores a node whose devices can
// still log in. PostgreSQL: pg_dump's custom format, itself one consistent snapshot, restored with
// pg_restore into an empty database.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import SQLite from 'better-sqlite3';
import { DEVICE_KEY_FILE } from '../auth/device-key';
import { StartError } from '../start-errors';

export const REGISTRY_FILE = 'fleetbind.db';
const KEY_ROW = 'device_secret_key';

/** Writes a consistent copy of the live registry at `dest`, with the node's device secret key in it. */
export async function backupSqlite(dataDir: string, dest: string): Promise<void> {
  const src = new SQLite(join(dataDir, REGISTRY_FILE), { readonly: true, fileMustExist: true });
  try {
    // All remaining pages in the next step: copied in small steps, a copy restarts whenever the
    // broker commits meanwhile, and under a steady stream of writes it might never finish.
    await src.backup(dest, { progress: ({ remainingPages }) => Math.max(remainingPages, 1) });
  } finally {
    src.close();
  }
  const copy = new SQLite(dest);
  try {
    const key = readFileSync(join(dataDir, DEVICE_KEY_FILE), 'utf8').trim();
    copy.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(KEY_ROW, key);
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/**
 * Puts a SQLite backup in place as the data dir's registry and its key beside it. The data dir
 * must hold no registry yet: a restore never overwrites a fleet.
 */
export function restoreSqlite(file: string, dataDir: string): void {
  const target = join(dataDir, REGISTRY_FILE);
  if (existsSync(target)) throw new StartError(`--restore: ${target} exists; restore into an empty data dir (a restore never overwrites a registry)`);
  if (existsSync(join(dataDir, DEVICE_KEY_FILE))) throw new StartError(`--restore: ${join(dataDir, DEVICE_KEY_FILE)} exists; restore into an empty data dir`);
  let key: string | undefined;
  try {
    const probe = new SQLite(file, { readonly: true, fileMustExist: true });
    try {
      key = (probe.prepare('SELECT value FROM kv WHERE key = ?').get(KEY_ROW) as { value: string } | undefined)?.value;
    } finally {
      probe.close();
    }
  } catch (err) {
    throw new StartError(`--restore: ${file} is not a fleetbind SQLite backup (${(err as Error).message})`);
  }
  if (key === undefined) throw new StartError(`--restore: ${file} holds no device secret key; it was not made by "fleet backup"`);
  copyFileSync(file, target);
  try {
    const db = new SQLite(target);
    try {
      // On a single node the key lives in the data dir, not the registry (broker/auth/device-key.ts).
      db.prepare('DELETE FROM kv WHERE key = ?').run(KEY_ROW);
    } finally {
      db.close();
    }
    writeFileSync(join(dataDir, DEVICE_KEY_FILE), `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    rmSync(target, { force: true });
    throw err;
  }
}

/** pg_dump of the whole registry in its custom format, as a stream; rejects `done` if pg_dump fails. */
export function pgDump(databaseUrl: string): { stream: Readable; done: Promise<void> } {
  const child = spawn('pg_dump', ['--format=custom', '--no-owner', '--dbname', databaseUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`pg_dump could not run (${err.message}); install postgresql-client`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_dump failed (exit ${code}): ${stderr.trim().slice(0, 500)}`))));
  });
  return { stream: child.stdout, done };
}

/** Restores a pg_dump backup into the (empty) database; the broker then migrates it as usual. */
export function pgRestore(file: string, databaseUrl: string): Promise<void> {
  const child = spawn('pg_restore', ['--no-owner', '--exit-on-error', '--single-transaction', '--dbname', databaseUrl, file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new StartError(`--restore: pg_restore could not run (${err.message}); install postgresql-client`)));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new StartError(`--restore: pg_restore failed (exit ${code}): ${stderr.trim().slice(0, 500)}`)),
    );
  });
}

/** `npm start -- --restore FILE`: the backup goes in place before the broker opens its registry. */
export async function restoreBackup(file: string, dataDir: string, databaseUrl: string | undefined): Promise<void> {
  if (!existsSync(file)) throw new StartError(`--restore: ${file} does not exist`);
  if (databaseUrl !== undefined) return pgRestore(file, databaseUrl);
  mkdirSync(dataDir, { recursive: true });
  restoreSqlite(file, dataDir);
}
