// Durable commits without blocking the event loop (docs/architecture.md, Backends). With
// synchronous=FULL, SQLite fsyncs the WAL inside every COMMIT, and better-sqlite3 runs COMMIT on
// the main thread: a reconnect storm of 2,000 devices spent about 1.3 s of its 3 s blocked in
// those fsyncs, with no MQTT handled meanwhile. The registry runs with synchronous=NORMAL
// instead, under which SQLite syncs only around checkpoints and when the WAL is reused (its own
// rules), and this syncs the WAL after each commit on a libuv thread: what FULL does, off the
// main thread. The dialect holds the registry's one connection until the sync is done, so no
// read sees a change before it is on disk and no caller hears "committed" before then; writes
// arriving meanwhile gather for the next group commit.
import { type FileHandle, open } from 'node:fs/promises';

export class WalSync {
  private handle: Promise<FileHandle> | null = null;
  private count = 0;

  /** `file` is the database file; its WAL is `<file>-wal`, which SQLite creates at the first write. */
  constructor(private readonly file: string) {}

  /** WAL syncs done since the registry opened. */
  get syncs(): number {
    return this.count;
  }

  /** Resolves once everything committed so far is on disk. */
  async sync(): Promise<void> {
    this.handle ??= open(`${this.file}-wal`, 'r');
    await (await this.handle).datasync();
    this.count++;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle) await (await handle).close();
  }
}
