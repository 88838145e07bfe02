// Platform preferences for a simulated device: the NVS namespace `fb` as a map, kept in memory
// or, with --state-dir, in one JSON file per device so a restarted simulator keeps its identity.
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PrefKey, Prefs } from '../../firmware/core/platform';
import { TxGate } from '../../broker/store/tx-gate';

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
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    this.changed();
  }

  remove(key: PrefKey): void {
    if (this.values.delete(key)) this.changed();
  }

  snapshot(): Partial<Record<PrefKey, string>> {
    return Object.fromEntries(this.values);
  }

  /** Resolves once every change made so far is kept: in memory, at once. */
  saved(): Promise<void> {
    return Promise.resolve();
  }

  protected changed(): void {}
}

/** Writes under way at once, for every device of the process: ten thousand at once ran out of file descriptors beside their sockets. */
const fileWrites = new TxGate(16);

/**
 * The file is written off the simulator's thread, once for any number of changes in a row: ten
 * thousand devices enrolling at once, each writing its file synchronously at every change, spent
 * most of bench:fleet's load generator in open and rename, and their CONNACK deadlines ran out
 * while it did. The values in memory are the device's; `saved` says when the file holds them.
 */
export class FilePrefs extends MemoryPrefs {
  private writing: Promise<void> = Promise.resolve();
  private pending = false;
  private failure: Error | null = null;

  /** Loads the file if it exists; `initial` fills only keys the file does not have. */
  constructor(
    private readonly file: string,
    initial: Partial<Record<PrefKey, string>> = {},
  ) {
    const stored = FilePrefs.read(file);
    super({ ...initial, ...stored });
    if (Object.entries(initial).some(([k, v]) => v !== undefined && !(k in stored))) this.changed();
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

  /** Rejects when a write failed: the file may hold older values than the device. */
  override async saved(): Promise<void> {
    await this.writing;
    if (this.failure) throw new Error(`cannot save device state ${this.file}: ${this.failure.message}`);
  }

  protected override changed(): void {
    // A write not yet begun takes every change made before it begins.
    if (this.pending) return;
    this.pending = true;
    this.writing = this.writing.then(() => this.write());
  }

  private async write(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    try {
      await fileWrites.run(async () => {
        this.pending = false;
        const text = JSON.stringify(this.snapshot(), null, 2);
        await mkdir(dirname(this.file), { recursive: true });
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, this.file);
      });
    } catch (e) {
      this.failure ??= e as Error;
    }
  }
}
