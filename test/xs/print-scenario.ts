// The core's print handler (firmware/core/handlers/print.ts) against a fake HTTP server and a
// fake printer on the serial exchange, on a virtual clock: written once, run on Node and inside
// XS (print.test.ts). Portable: no Node APIs. The server drops the second window part way once;
// the printer is busy once; the printer checks the sha256 of what it received.
import type { PrintParams } from '../../protocol/jobs';
import { printHandler, PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
import type { JobContext } from '../../firmware/core/job-handler';
import type { Http, Platform, Serial, SerialRequest, SerialResult, TimerHandle } from '../../firmware/core/platform';
import { Sha256 } from '../../firmware/core/sha256';
import { utf8Decode, utf8Encode } from '../../firmware/core/utf8';

export interface PrintTranscript {
  outcome: { done?: unknown; failed?: string };
  /** [start, end] of every Range asked for, with a count when asked for several times in a row. */
  ranges: [number, number, number?][];
  progress: number[];
  /** The printer's own view: commands in order (DATA counted), bytes received, its verdict. */
  printer: { commands: string[]; bytes: number; sha256: string; verdict: string | null };
}

/** Repeats of one range in a row (refused retries during an outage) shown once, with their count. */
function collapse(ranges: [number, number][]): [number, number, number?][] {
  const out: [number, number, number?][] = [];
  for (const r of ranges) {
    const last = out.at(-1);
    if (last && last[0] === r[0] && last[1] === r[1]) last[2] = (last[2] ?? 1) + 1;
    else out.push([r[0], r[1]]);
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return out;
}

export function design(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 7;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * `outageMs`: from the cut on, the server refuses connections for this long (a broker restarting;
 * Infinity for one that never comes back).
 */
export function runPrintScenario(opts: { corrupt?: boolean; outageMs?: number } = {}): PrintTranscript {
  const bytes = design(PRINT_WINDOW_BYTES * 2 + 7_000);
  const sha = hex(new Sha256().update(bytes).digest());
  // Virtual time: timers run in order of their due time, nothing real waits.
  let now = 0;
  let seq = 0;
  const timers: { at: number; seq: number; cb: () => void; id: number }[] = [];
  const setTimer = (ms: number, cb: () => void): TimerHandle => {
    const id = ++seq;
    timers.push({ at: now + ms, seq: id, cb, id });
    return id as unknown as TimerHandle;
  };
  const clearTimer = (h: TimerHandle): void => {
    const i = timers.findIndex((t) => t.id === (h as unknown as number));
    if (i >= 0) timers.splice(i, 1);
  };

  const ranges: [number, number][] = [];
  let dropped = false;
  let cutAt = -1;
  const http: Http = {
    get(_url, range, h) {
      ranges.push([range.start, range.end]);
      let aborted = false;
      if (opts.outageMs !== undefined && cutAt >= 0 && now - cutAt < opts.outageMs) {
        setTimer(1, () => !aborted && h.onEnd('connection refused'));
        return { abort: () => (aborted = true) };
      }
      const body = bytes.slice(range.start, range.end + 1);
      if (opts.corrupt && range.start === 0) body[100] = body[100]! ^ 0xff;
      // The second window's first try breaks after 5000 bytes.
      const cut = !dropped && range.start === PRINT_WINDOW_BYTES ? 5_000 : body.length;
      if (cut < body.length) {
        dropped = true;
        cutAt = now;
      }
      setTimer(1, () => !aborted && h.onStatus(206));
      for (let at = 0; at < cut; at += 3_000) setTimer(2, () => !aborted && h.onData(body.subarray(at, Math.min(cut, at + 3_000))));
      setTimer(3, () => !aborted && h.onEnd(cut < body.length ? 'connection reset' : undefined));
      return { abort: () => (aborted = true) };
    },
  };

  const printer = { commands: [] as string[], received: [] as Uint8Array[], bytes: 0, declared: '', verdict: null as string | null, busyOnce: true };
  const serial: Serial = {
    send(req: SerialRequest, done: (r: SerialResult) => void) {
      let aborted = false;
      const nl = req.data.indexOf(10);
      const header = utf8Decode(req.data.subarray(0, nl));
      const [word, a, , c] = header.split(' ');
      if (word === 'DATA' && printer.busyOnce) {
        printer.busyOnce = false;
        setTimer(1, () => !aborted && done({ ok: false, error: 'serial port busy with another exchange' }));
        return { abort: () => (aborted = true) };
      }
      printer.commands.push(word === 'DATA' ? `DATA` : header);
      let reply = 'ERR UNKNOWN';
      if (word === 'DESIGN') {
        printer.declared = c ?? '';
        reply = 'READY';
      } else if (word === 'DATA') {
        const body = req.data.subarray(nl + 1);
        if (body.length !== Number(a)) reply = 'ERR LENGTH';
        else {
          printer.received.push(body.slice());
          printer.bytes += body.length;
          reply = 'ACK';
        }
      } else if (word === 'END') {
        const h = new Sha256();
        for (const r of printer.received) h.update(r);
        const got = hex(h.digest());
        printer.verdict = got === printer.declared ? 'ok' : 'checksum';
        reply = got === printer.declared ? `OK ${got}` : 'ERR CHECKSUM';
      } else if (word === 'ABORT') {
        printer.verdict = 'aborted';
        reply = 'OK';
      }
      setTimer(1, () => !aborted && done({ ok: true, data: utf8Encode(`${reply}\n`) }));
      return { abort: () => (aborted = true) };
    },
  };

  const outcome: PrintTranscript['outcome'] = {};
  const progress: number[] = [];
  const platform = { setTimer, clearTimer, now: () => now, http, serial, log: () => {} } as unknown as Platform;
  const ctx: JobContext = {
    platform,
    job: 'job-1',
    progress: (p) => progress.push(p),
    done: (result) => (outcome.done = result ?? null),
    fail: (error) => (outcome.failed = error),
  };
  const params: PrintParams = { design: sha, size: bytes.length, copies: 2, model: 'case-printer-s', url: 'http://broker.local:8080/api/blobs/x?exp=1&sig=y' };
  printHandler.start(params, ctx);
  for (let steps = 0; timers.length > 0 && steps < 100_000; steps++) {
    timers.sort((x, y) => x.at - y.at || x.seq - y.seq);
    const t = timers.shift()!;
    now = t.at;
    t.cb();
  }
  const all = new Sha256();
  for (const r of printer.received) all.update(r);
  return {
    outcome,
    ranges: collapse(ranges),
    progress,
    printer: {
      commands: printer.commands.filter((x, i, l) => x !== 'DATA' || l[i - 1] !== 'DATA'),
      bytes: printer.bytes,
      sha256: hex(all.digest()),
      verdict: printer.verdict,
    },
  };
}
