// Queue positions and ETAs. A (device, kind) duration is an EWMA of real durations; before the
// first sample the kind's typicalMs is the prior, and each early sample weighs at least 1/n so the
// prior is gone once real history exists.
import { JOB_KINDS, isJobKind } from '../../protocol/jobs';

export const EWMA_ALPHA = 0.2;

export interface Duration {
  ewmaMs: number;
  samples: number;
}

export function nextDuration(prev: Duration | undefined, sampleMs: number): Duration {
  const samples = (prev?.samples ?? 0) + 1;
  const weight = Math.max(EWMA_ALPHA, 1 / samples);
  const ewmaMs = prev === undefined ? sampleMs : prev.ewmaMs + weight * (sampleMs - prev.ewmaMs);
  return { ewmaMs: Math.round(ewmaMs), samples };
}

export function priorMs(kind: string): number {
  return isJobKind(kind) ? JOB_KINDS[kind].typicalMs : 10_000;
}

export interface Schedulable {
  id: string;
  kind: string;
  state: string;
  startedAt: number | null;
  params?: Record<string, unknown>;
}

/**
 * A job's duration when its params say it, from when it starts: an identify lasts its seconds; a
 * QR with an expiry stays up until then (a held one may be paid sooner, but nothing says when, and
 * the expiry is the one bound that holds). Null when only history can tell.
 */
export function knownMs(j: Pick<Schedulable, 'kind' | 'params'>, startAt: number): number | null {
  const p = j.params;
  if (p === undefined) return null;
  if (j.kind === 'identify' && typeof p.seconds === 'number') return p.seconds * 1000;
  if (j.kind !== 'qr.show') return null;
  const bounds: number[] = [];
  if (typeof p.expiresInSeconds === 'number') bounds.push(p.expiresInSeconds * 1000);
  if (typeof p.expiresAt === 'number') bounds.push(p.expiresAt - startAt);
  return bounds.length === 0 ? null : Math.max(0, Math.min(...bounds));
}
export interface Slot {
  position: number;
  eta: number;
}

/**
 * List scheduling over the device's slots: jobs on the device keep their slot for what remains of
 * their expected duration; queued jobs, in FIFO order, take the slot that frees first. A duration
 * the params state (knownMs) beats history, so a held QR counts until its expiry and every job
 * behind it waits that long too.
 */
export function schedule(jobs: readonly Schedulable[], concurrency: number, now: number, durationOf: (kind: string) => number): Map<string, Slot> {
  const free = new Array<number>(Math.max(1, concurrency)).fill(0);
  const out = new Map<string, Slot>();
  /** Puts the job in the slot that frees first; ms(start offset) is how long it holds it. */
  const take = (ms: (offset: number) => number): number => {
    let best = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[best]!) best = i;
    free[best]! += ms(free[best]!);
    return free[best]!;
  };
  for (const j of jobs) {
    if (j.state === 'queued') continue;
    const startedAt = j.startedAt ?? now;
    const expected = knownMs(j, startedAt) ?? durationOf(j.kind);
    out.set(j.id, { position: 0, eta: take(() => Math.max(0, expected - (now - startedAt))) });
  }
  let position = 0;
  for (const j of jobs) {
    if (j.state !== 'queued') continue;
    out.set(j.id, { position: ++position, eta: take((offset) => knownMs(j, now + offset) ?? durationOf(j.kind)) });
  }
  return out;
}
