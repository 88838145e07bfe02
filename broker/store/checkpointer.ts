// Checkpoints off the main thread (docs/architecture.md, Backends). By default SQLite copies the
// WAL back into the database file inside whichever COMMIT takes the WAL past 1,000 pages, and
// under synchronous=NORMAL that copy syncs both files: with jobs arriving at a steady 500/s, one
// commit in forty held the event loop for 2 to 30 ms, which set the p99 of every job near it.
// Here a worker thread with its own connection runs PASSIVE checkpoints, which never block the
// writer or the readers. Under a steady load they never let the WAL start again from the
// beginning either, since SQLite does that only at a write that finds every frame copied, and
// frames keep arriving while a checkpoint runs. So once the WAL is long, one checkpoint holds the
// registry's connection while the worker copies the last frames: queries wait for those few
// milliseconds, the event loop does not, and the next write restarts the WAL. The main connection
// keeps an automatic threshold far above that, as a backstop should the worker fail.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Commits between two checkpoint requests; a registry that writes less never starts the worker. */
export const COMMITS_PER_CHECKPOINT = 64;
/** WAL frames (pages) after which a checkpoint holds the connection to let the WAL restart (about 16 MB). */
export const RESTART_FRAMES = 4_000;
/** The main connection's own automatic checkpoint, in pages of WAL (about 40 MB). */
export const BACKSTOP_PAGES = 10_000;

/** Runs `fn` while no query uses the registry's connection (the dialect's driver). */
export type Hold = <T>(fn: () => Promise<T>) => Promise<T>;

/** What `PRAGMA wal_checkpoint` reports: frames in the WAL, and how many are now in the file. */
export interface CheckpointResult {
  busy: boolean;
  log: number;
  checkpointed: number;
}

// Plain CommonJS evaluated by the worker: the same code under tsx and in the dist/ bundle, with no
// second entry point to build or locate. `driver` is better-sqlite3's resolved path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let checkpoint = null;
let db = null;
parentPort.on('message', (m) => {
  if (m === 'close') {
    if (db) db.close();
    parentPort.close();
    return;
  }
  try {
    if (checkpoint === null) {
      const opened = new Database(workerData.file, { fileMustExist: true });
      db = opened;
      opened.pragma('synchronous = NORMAL');
      checkpoint = opened.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    }
    const r = checkpoint.get();
    parentPort.postMessage({ busy: r.busy !== 0, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
`;

export class Checkpointer {
  private worker: Worker | null = null;
  private commits = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private done = 0;
  private held = 0;
  private frames = 0;
  private hold: Hold | null = null;
  private closed = false;
  private readonly waiting: ((m: CheckpointResult | { error: string }) => void)[] = [];

  constructor(
    private readonly file: string,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Checkpoints the worker has completed. */
  get checkpoints(): number {
    return this.done;
  }

  /** Checkpoints that held the connection so that the WAL could restart. */
  get restarts(): number {
    return this.held;
  }

  /** Frames in the WAL at the last checkpoint (0 after one that lets it restart). */
  get walFrames(): number {
    return this.frames;
  }

  /** The driver lends its connection this way; until it does, no checkpoint holds it. */
  holdWith(hold: Hold): void {
    this.hold = hold;
  }

  /** Called after each durable commit; every so many commits, asks the worker for a checkpoint. */
  committed(): void {
    if (++this.commits < COMMITS_PER_CHECKPOINT || this.inFlight > 0 || this.closed) return;
    this.checkpoint().catch((err: unknown) => this.onError(err as Error));
  }

  /** Runs a PASSIVE checkpoint on the worker, after any already asked for. */
  checkpoint(): Promise<CheckpointResult> {
    this.commits = 0;
    this.inFlight++;
    const run = this.chain.then(() => this.runOne());
    this.chain = run.catch(() => undefined).finally(() => this.inFlight--);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private async runOne(): Promise<CheckpointResult> {
    if (this.closed && this.worker === null) throw new Error('the checkpointer is closed');
    const worker = this.start();
    const ask = async (): Promise<CheckpointResult> => {
      // Referenced only while a checkpoint is under way: an idle worker keeps no process alive.
      worker.ref();
      const reply = await new Promise<CheckpointResult | { error: string }>((resolve) => {
        this.waiting.push(resolve);
        worker.postMessage('checkpoint');
      });
      if (this.waiting.length === 0) worker.unref();
      if ('error' in reply) throw new Error(`WAL checkpoint failed: ${reply.error}`);
      this.done++;
      return reply;
    };
    const hold = this.frames >= RESTART_FRAMES ? this.hold : null;
    // Catch up first without holding, so that the held checkpoint copies and syncs only what was
    // committed meanwhile. Held straight after the last regular one, it copied 64 commits' frames:
    // at 500 jobs/s every query waited 15-25 ms behind it, twice a second; now 6-8 ms.
    if (hold) await ask();
    const result = hold ? await hold(ask) : await ask();
    // Every frame is copied and nothing can have come after: the next write restarts the WAL.
    if (hold && !result.busy && result.checkpointed === result.log) {
      this.held++;
      this.frames = 0;
    } else this.frames = result.log;
    return result;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.file, driver } });
    worker.on('message', (m: CheckpointResult | { error: string }) => this.waiting.shift()?.(m));
    // A worker that dies takes its answers with it: whoever waits hears why, and the next
    // checkpoint starts a new one. The main connection's backstop checkpoints meanwhile.
    let failure: string | null = null;
    worker.on('error', (err) => {
      failure = err.message;
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      for (const w of this.waiting.splice(0)) w({ error: failure ?? `the checkpoint worker exited with code ${code}` });
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
