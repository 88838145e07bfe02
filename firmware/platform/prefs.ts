// Platform preferences on Moddable's "preference" module: domain `fb`, which on ESP32 is the
// NVS namespace `fb` that host-tools provision. Every key the core uses is a `str` entry.
import Preference from 'preference';
import { PREF_DOMAIN, type PrefKey, type Prefs } from '../core/platform';

/** Not a core preference: the adapter's own boot counter, an i32 entry next to them. */
const BOOT_KEY = 'boot';

export class NvsPrefs implements Prefs {
  get(key: PrefKey): string | undefined {
    const value = Preference.get(PREF_DOMAIN, key);
    if (value === undefined || typeof value === 'string') return value;
    // Provisioning writes strings only; anything else is a foreign entry, not a setting.
    trace(`prefs: ${PREF_DOMAIN}/${key} is a ${typeof value}, not a string; ignored\n`);
    return undefined;
  }

  set(key: PrefKey, value: string): void {
    Preference.set(PREF_DOMAIN, key, value);
  }

  remove(key: PrefKey): void {
    Preference.delete(PREF_DOMAIN, key);
  }
}

/** Counts this boot and returns the count (1 on the first boot after flashing NVS). */
export function countBoot(): number {
  const previous = Preference.get(PREF_DOMAIN, BOOT_KEY);
  const boot = (typeof previous === 'number' && previous >= 0 ? previous : 0) + 1;
  Preference.set(PREF_DOMAIN, BOOT_KEY, boot);
  return boot;
}
