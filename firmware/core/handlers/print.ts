// print: a walk-up order's design streamed to the machine (docs/architecture.md, "Walk-up
// orders"). The design is fetched by its signed URL in windows of WINDOW bytes with HTTP Range,
// so the heap holds one window at a time; a window that fails part way resumes from the byte it
// reached. A fetch that keeps failing is tried again with capped backoff until no byte has
// arrived for PRINT_FETCH_STALL_MS, long enough to ride out a broker restart. Each window goes to the machine over the serial exchange in CHUNK-byte frames, one
// frame per exchange, so the machine's ACK is the flow control:
//   DESIGN <size> <copies> <sha256>\n   → READY
//   DATA <n>\n<n bytes>                  → ACK
//   END\n                                → OK <sha256> | ERR <reason>
//   ABORT\n                              (on cancel or failure; no answer awaited)
// The device hashes what it streams too and refuses to finish a design whose hash differs.
import type { PrintParams } from '../../../protocol/jobs';
import type { JobContext, JobHandler } from '../job-handler';
import type { Http, Serial, SerialResult, TimerHandle } from '../platform';
import { Sha256 } from '../sha256';
import { utf8Decode, utf8Encode } from '../utf8';

export const PRINT_WINDOW_BYTES = 16 * 1024;
export const PRINT_CHUNK_BYTES = 512;
/** With no byte fetched for this long the job fails; a restarting broker is back well within it. */
export const PRINT_FETCH_STALL_MS = 120_000;
/** Retries back off from 100 ms by doubling, up to this. */
export const PRINT_FETCH_MAX_BACKOFF_MS = 5_000;
const EXCHANGE_TIMEOUT_MS = 5_000;
const NEWLINE = utf8Encode('\n');
/** The machine-state poll may hold the port for a moment; then the frame is sent again. */
const BUSY_RETRY_MS = 50;

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return out;
}

function frame(header: string, body?: Uint8Array): Uint8Array {
  const head = utf8Encode(header);
  if (body === undefined) return head;
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

class PrintRun {
  private offset = 0;
  private window = new Uint8Array(0);
  private got = 0;
  private attempts = 0;
  /** When this window last made progress (or began). */
  private progressAt = 0;
  private readonly hash = new Sha256();
  private fetch: { abort(): void } | null = null;
  private exchange: { abort(): void } | null = null;
  private timer: TimerHandle | null = null;
  private over = false;

  constructor(
    private readonly p: PrintParams & { url: string },
    private readonly ctx: JobContext,
    private readonly http: Http,
    private readonly serial: Serial,
  ) {}

  start(): void {
    this.send(frame(`DESIGN ${this.p.size} ${this.p.copies} ${this.p.design}\n`), (reply) => {
      if (reply !== 'READY') return this.fail(`PRINTER: ${reply || 'no answer'} to DESIGN`);
      this.fetchWindow();
    });
  }

  private fail(error: string): void {
    if (this.over) return;
    this.stop();
    this.serial.send({ data: frame('ABORT\n'), timeoutMs: 100 }, () => {});
    this.ctx.fail(error);
  }

  stop(): void {
    this.over = true;
    this.fetch?.abort();
    this.exchange?.abort();
    if (this.timer !== null) this.ctx.platform.clearTimer(this.timer);
  }

  cancel(): void {
    if (this.over) return;
    this.stop();
    this.serial.send({ data: frame('ABORT\n'), timeoutMs: 100 }, () => {});
  }

  /** One exchange; a busy port is tried again shortly, any other error fails the job. */
  private send(data: Uint8Array, then: (reply: string) => void): void {
    if (this.over) return;
    this.exchange = this.serial.send({ data, timeoutMs: EXCHANGE_TIMEOUT_MS, expect: NEWLINE }, (r: SerialResult) => {
      this.exchange = null;
      if (this.over) return;
      if (!r.ok) {
        if (r.error.indexOf('busy') >= 0) {
          this.timer = this.ctx.platform.setTimer(BUSY_RETRY_MS, () => this.send(data, then));
          return;
        }
        return this.fail(`SERIAL: ${r.error}`);
      }
      then(utf8Decode(r.data).trim());
    });
  }

  private fetchWindow(): void {
    const length = Math.min(PRINT_WINDOW_BYTES, this.p.size - this.offset);
    if (this.window.length !== length) this.window = new Uint8Array(length);
    this.got = 0;
    this.attempts = 0;
    this.progressAt = this.ctx.platform.now();
    this.request();
  }

  /** Asks for what the window still lacks: after a failure, only the bytes not yet received. */
  private request(): void {
    if (this.over) return;
    this.attempts++;
    let status = 0;
    const start = this.offset + this.got;
    this.fetch = this.http.get(
      this.p.url,
      { start, end: this.offset + this.window.length - 1 },
      {
        onStatus: (s) => (status = s),
        onData: (chunk) => {
          if (this.over) return;
          // A 200 is the whole blob from byte 0: take only this window's part of it.
          const skip = status === 200 ? start : 0;
          let c = chunk;
          if (skip > 0) {
            const before = this.fetchSkipped;
            this.fetchSkipped += c.length;
            if (this.fetchSkipped <= skip) return;
            c = c.subarray(Math.max(0, skip - before));
          }
          const room = this.window.length - this.got;
          this.window.set(c.length > room ? c.subarray(0, room) : c, this.got);
          this.got += Math.min(room, c.length);
          if (c.length > 0) {
            this.progressAt = this.ctx.platform.now();
            this.attempts = 1;
          }
        },
        onEnd: (error) => {
          this.fetch = null;
          this.fetchSkipped = 0;
          if (this.over) return;
          const bad = status !== 206 && status !== 200;
          if (!bad && this.got === this.window.length) return this.streamWindow(0);
          if (status === 403 || status === 404 || status === 410) return this.fail(`FETCH: the design URL answered ${status}`);
          const stalled = this.ctx.platform.now() - this.progressAt;
          if (stalled >= PRINT_FETCH_STALL_MS)
            return this.fail(`FETCH: ${error ?? `status ${status}`}; nothing fetched for ${Math.round(stalled / 1000)} s after ${this.attempts} attempts`);
          this.ctx.platform.log('warn', 'design fetch interrupted; resuming with Range', { at: this.offset + this.got, error: error ?? `status ${status}` });
          this.timer = this.ctx.platform.setTimer(Math.min(100 * 2 ** Math.min(this.attempts - 1, 16), PRINT_FETCH_MAX_BACKOFF_MS), () => this.request());
        },
      },
    );
  }

  private fetchSkipped = 0;

  private streamWindow(at: number): void {
    if (at >= this.window.length) {
      this.offset += this.window.length;
      this.ctx.progress(Math.floor((this.offset * 100) / this.p.size));
      return this.offset < this.p.size ? this.fetchWindow() : this.finish();
    }
    const body = this.window.subarray(at, Math.min(at + PRINT_CHUNK_BYTES, this.window.length));
    this.send(frame(`DATA ${body.length}\n`, body), (reply) => {
      if (reply !== 'ACK') return this.fail(`PRINTER: ${reply || 'no answer'} to DATA`);
      this.hash.update(body);
      this.streamWindow(at + body.length);
    });
  }

  private finish(): void {
    const sha = hex(this.hash.digest());
    if (sha !== this.p.design) return this.fail(`CHECKSUM: the design fetched hashes to ${sha}, not ${this.p.design}`);
    this.send(frame('END\n'), (reply) => {
      if (reply !== `OK ${this.p.design}`) return this.fail(`PRINTER: ${reply.startsWith('ERR ') ? reply.slice(4) : reply || 'no answer'}`);
      this.over = true;
      this.ctx.done({ bytes: this.p.size, sha256: sha, copies: this.p.copies });
    });
  }
}

export const printHandler: JobHandler<'print'> = {
  kind: 'print',
  available: (platform) => platform.http !== undefined && platform.serial !== undefined,
  start(p, ctx) {
    const { http, serial } = ctx.platform;
    if (http === undefined || serial === undefined) {
      ctx.fail('UNSUPPORTED: this board has no HTTP client or no serial port');
      return { cancel() {} };
    }
    if (p.url === undefined) {
      ctx.fail('BAD_PARAMS: the print has no design URL');
      return { cancel() {} };
    }
    const run = new PrintRun({ ...p, url: p.url }, ctx, http, serial);
    ctx.progress(0);
    run.start();
    return { cancel: () => run.cancel() };
  },
};
