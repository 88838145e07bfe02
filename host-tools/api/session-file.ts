// The admin session `npm run fleet -- login` keeps for later commands: one JSON file in the user's
// config dir, readable by the user alone (mode 600 in a 700 folder), holding the broker's API URL
// and the session token. The token never goes anywhere but that file and the Authorization header.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface SavedSession {
  brokerApi: string;
  token: string;
  username: string;
  expiresAt: number;
}

export function sessionFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'fleetbind', 'session.json');
}

export function saveSession(s: SavedSession, env: NodeJS.ProcessEnv = process.env): string {
  const file = sessionFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of a file that already existed.
  chmodSync(file, 0o600);
  return file;
}

/** The saved session for this broker API, unless there is none or it has expired. */
export function loadSession(brokerApi: string, env: NodeJS.ProcessEnv = process.env, now = Date.now()): SavedSession | null {
  const file = sessionFile(env);
  if (!existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, 'utf8')) as SavedSession;
  return s.brokerApi === brokerApi && s.expiresAt > now ? s : null;
}
