// Drives the xsnap-worker binary from @agoric/xsnap directly. Its JS wrapper needs a SES
// lockdown of the host realm, which the test runner does not survive, so this speaks the
// worker's netstring protocol itself (see node_modules/@agoric/xsnap/src/xsnap.js):
//   to the worker (fd 3):   e<js>  evaluate      ?<bytes>  call globalThis.handleCommand
//                           /<bytes> answer to the worker's own issueCommand
//   from the worker (fd 4): .<meter>\x01<bytes> done    !<text> uncaught exception
//                           ?<bytes>  issueCommand from inside XS, answered with /<bytes>
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

const require = createRequire(import.meta.url);

export function xsnapWorkerPath(): string {
  const pkg = dirname(require.resolve('@agoric/xsnap/package.json'));
  const bin = join(pkg, 'xsnap-native', 'xsnap', 'build', 'bin', 'lin', 'release', 'xsnap-worker');
  if (!existsSync(bin)) throw new Error(`xsnap-worker is not built at ${bin}: run 'npm rebuild @agoric/xsnap'`);
  return bin;
}

export class XsError extends Error {
  constructor(readonly xsText: string) {
    super(`XS reported: ${xsText}`);
    this.name = 'XsError';
  }
}

export type QueryHandler = (message: Uint8Array) => Uint8Array;

interface Pending {
  resolve(reply: Uint8Array): void;
  reject(error: Error): void;
}

export class XsnapWorker {
  private readonly child: ChildProcess;
  private readonly toXs: Writable;
  private buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private failure: Error | null = null;
  private meter: { currentHeapCount?: number } = {};
  private chain: Promise<unknown> = Promise.resolve();
  private exited: string | null = null;
  private output = '';

  constructor(
    name: string,
    private readonly onQuery: QueryHandler,
  ) {
    this.child = spawn(xsnapWorkerPath(), [name], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    const stdio = this.child.stdio as unknown as [null, Readable, Readable, Writable, Readable];
    this.toXs = stdio[3];
    stdio[1].on('data', (d: Buffer) => (this.output += d.toString()));
    stdio[2].on('data', (d: Buffer) => (this.output += d.toString()));
    stdio[4].on('data', (d: Buffer) => this.onData(d));
    this.child.on('exit', (code, signal) => {
      this.exited = `xsnap-worker exited (code ${code}, signal ${signal})${this.output ? `; output: ${this.output.slice(-2000)}` : ''}`;
      this.pending?.reject(new Error(this.exited));
      this.pending = null;
    });
  }

  /** XS heap slots in use after the last command, from the worker's meter report. */
  get heapCount(): number {
    const n = this.meter.currentHeapCount;
    if (typeof n !== 'number') throw new Error('xsnap-worker reported no currentHeapCount');
    return n;
  }

  /** What the worker printed (XS `print`) on stdout and stderr. */
  get printed(): string {
    return this.output;
  }

  evaluate(code: string): Promise<Uint8Array> {
    return this.request(Buffer.concat([Buffer.from('e'), Buffer.from(code, 'utf8')]));
  }

  command(message: Uint8Array): Promise<Uint8Array> {
    return this.request(Buffer.concat([Buffer.from('?'), message]));
  }

  async close(): Promise<void> {
    if (this.exited !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.toXs.end();
    await gone;
  }

  private request(payload: Buffer): Promise<Uint8Array> {
    const run = this.chain.then(
      () =>
        new Promise<Uint8Array>((resolve, reject) => {
          if (this.exited !== null) return reject(new Error(this.exited));
          this.pending = { resolve, reject };
          this.write(payload);
        }),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  private write(payload: Uint8Array): void {
    this.toXs.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const colon = this.buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.buffer.subarray(0, colon).toString('ascii'));
      if (!Number.isInteger(length)) throw new Error(`xsnap protocol error: bad netstring length '${this.buffer.subarray(0, colon)}'`);
      if (this.buffer.length < colon + 1 + length + 1) return;
      const message = this.buffer.subarray(colon + 1, colon + 1 + length);
      this.buffer = this.buffer.subarray(colon + 2 + length);
      this.onMessage(Buffer.from(message));
    }
  }

  private onMessage(message: Buffer): void {
    const kind = String.fromCharCode(message[0] ?? 0);
    const body = message.subarray(1);
    if (kind === '?') {
      let reply: Uint8Array = new Uint8Array();
      try {
        reply = this.onQuery(body);
      } catch (e) {
        // The worker blocks until answered: answer, and fail the command in flight when it ends.
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      }
      this.write(Buffer.concat([Buffer.from('/'), reply]));
      return;
    }
    const p = this.pending;
    const failure = this.failure;
    this.pending = null;
    this.failure = null;
    if (p === null) throw new Error(`xsnap protocol error: '${kind}' with no command in flight`);
    if (failure !== null) p.reject(failure);
    else if (kind === '.') {
      const sep = body.indexOf(1);
      if (sep >= 0) this.meter = JSON.parse(body.subarray(0, sep).toString('utf8')) as { currentHeapCount?: number };
      p.resolve(sep < 0 ? body : body.subarray(sep + 1));
    } else if (kind === '!') p.reject(new XsError(body.toString('utf8')));
    else p.reject(new Error(`xsnap protocol error: unknown message '${message.toString('utf8').slice(0, 80)}'`));
  }
}
