// The screen each device announced in its last hello, kept in the registry's key-value table
// (key `screen:<device>`, value `<width>x<height>`) so every node checks a qr.show against it,
// also while the device is offline (docs/architecture.md, Firmware).
import type { Kysely } from 'kysely';
import type { ScreenSize } from '../../protocol/screen-fit';
import type { Database } from './schema';

const keyOf = (device: string): string => `screen:${device}`;

/** Stores the device's screen, or forgets it when the device says it has none. */
export async function setDeviceScreen(db: Kysely<Database>, device: string, screen: ScreenSize | undefined): Promise<void> {
  if (screen === undefined) {
    await db.deleteFrom('kv').where('key', '=', keyOf(device)).execute();
    return;
  }
  const value = `${screen.width}x${screen.height}`;
  await db
    .insertInto('kv')
    .values({ key: keyOf(device), value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

export async function getDeviceScreen(db: Kysely<Database>, device: string): Promise<ScreenSize | null> {
  const row = await db.selectFrom('kv').select('value').where('key', '=', keyOf(device)).executeTakeFirst();
  const m = row === undefined ? null : /^(\d+)x(\d+)$/.exec(row.value);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}
