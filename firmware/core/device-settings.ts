// Settings the broker asks for (docs/architecture.md, Machine state): `config.delta` carries the
// desired settings the device has not applied yet, with their version. The device applies the
// ones it knows, keeps them across restarts (prefs `settings`, `setver`), and reports them back,
// which empties the delta. A delta older than the last one applied is ignored, so a late config
// can never undo a newer change.
import { SETTINGS, type SettingValue, type SettingsDelta, checkSetting } from '../../protocol/machine-state';
import { errorSummary } from './error-summary';
import type { Platform } from './platform';

export class DeviceSettings {
  private values: Record<string, SettingValue> = {};
  private version = 0;

  constructor(private readonly platform: Platform) {
    const stored = platform.prefs.get('settings');
    if (stored) {
      try {
        const parsed = JSON.parse(stored) as Record<string, unknown>;
        for (const [k, v] of Object.entries(parsed)) if (SETTINGS[k]) this.values[k] = checkSetting(k, v);
      } catch (e) {
        platform.log('warn', 'ignored stored settings', { error: errorSummary(e) });
      }
    }
    const v = Number(platform.prefs.get('setver') ?? '0');
    this.version = Number.isSafeInteger(v) && v >= 0 ? v : 0;
  }

  /** What the device runs with now. */
  get current(): Record<string, SettingValue> {
    return { ...this.values };
  }

  get appliedVersion(): number {
    return this.version;
  }

  /** Applies a delta; returns the settings it changed, or null when the delta was older than the one applied. */
  apply(delta: SettingsDelta): Record<string, SettingValue> | null {
    if (delta.version < this.version) {
      this.platform.log('info', 'ignored a stale settings delta', { version: delta.version, applied: this.version });
      return null;
    }
    const changed: Record<string, SettingValue> = {};
    for (const [k, v] of Object.entries(delta.settings)) {
      try {
        const value = checkSetting(k, v);
        if (this.values[k] !== value) changed[k] = value;
      } catch (e) {
        // A newer broker may know settings this firmware does not: skip them, apply the rest.
        this.platform.log('warn', 'skipped a setting this firmware cannot apply', { key: k.slice(0, 40), error: errorSummary(e) });
      }
    }
    for (const [k, v] of Object.entries(changed)) {
      this.values[k] = v;
      this.effect(k, v);
    }
    this.version = delta.version;
    if (Object.keys(changed).length > 0) this.platform.prefs.set('settings', JSON.stringify(this.values));
    this.platform.prefs.set('setver', String(delta.version));
    if (Object.keys(changed).length > 0) this.platform.log('info', 'settings applied', { version: delta.version, keys: Object.keys(changed).join(',') });
    return changed;
  }

  /** Settings with an effect on the hardware; the others are read where they are used. */
  private effect(key: string, value: SettingValue): void {
    if (key === 'display.brightness' && typeof value === 'number') this.platform.display.brightness?.(value);
  }
}
