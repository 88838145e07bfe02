// Platform preferences for a simulated device: the NVS namespace `fb` as a map, kept in memory
// or, with --state-dir, in one JSON file per device so a restarted simulator keeps its identity.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PrefKey, Prefs } from '../../firmware/core/platform';

/** NVS key names are at most 15 characters and strings at most 4000 bytes (ESP-IDF limits). */
const MAX_VALUE_BYTES = 4000;

export class MemoryPrefs implements Prefs {
  protected readonly values = new Map<PrefKey, string>();

  constructor(initial: Partial<Record<PrefKey, string>> = {}) {
    for (const [k, v] of Object.entries(initial)) if (v !== undefined) this.values.set(k as PrefKey, v);
  }

  get(key: PrefKey): string | undefined {
    return this.values.get(key);
  }

  set(key: PrefKey, value: string): void {
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
      throw new Error(`pref ${key}: ${Buffer.byteLength(value)} bytes exceed the NVS string limit of ${MAX_VALUE_BYTES}`);
    this.values.set(key, value);
    this.changed();
  }

  remove(key: PrefKey): void {
    if (this.values.delete(key)) this.changed();
  }

  snapshot(): Partial<Record<PrefKey, string>> {
    return Object.fromEntries(this.values);
  }

  protected changed(): void {}
}

export class FilePrefs extends MemoryPrefs {
  /** Loads the file if it exists; `initial` fills only keys the file does not have. */
  constructor(
    private readonly file: string,
    initial: Partial<Record<PrefKey, string>> = {},
  ) {
    super({ ...initial, ...FilePrefs.read(file) });
    this.changed();
  }

  private static read(file: string): Partial<Record<PrefKey, string>> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`cannot read device state ${file}: ${(e as Error).message}`);
    }
    try {
      return JSON.parse(text) as Partial<Record<PrefKey, string>>;
    } catch (e) {
      throw new Error(`device state ${file} is not valid JSON (${(e as Error).message}); delete it to start that device afresh`);
    }
  }

  protected override changed(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
