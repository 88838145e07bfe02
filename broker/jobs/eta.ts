// Queue positions and ETAs. A (device, kind) duration is an EWMA of real durations; before the
// first sample the kind's typicalMs is the prior, and each early sample weighs at least 1/n so the
// prior is gone once real history exists.
import { JOB_KINDS, isJobKind } from '../../protocol/jobs';

export const EWMA_ALPHA = 0.2;

export interface Duration { ewmaMs: number; samples: number }

export function nextDuration(prev: Duration | undefined, sampleMs: number): Duration {
  const samples = (prev?.samples ?? 0) + 1;
  const weight = Math.max(EWMA_ALPHA, 1 / samples);
  const ewmaMs = prev === undefined ? sampleMs : prev.ewmaMs + weight * (sampleMs - prev.ewmaMs);
  return { ewmaMs: Math.round(ewmaMs), samples };
}

export function priorMs(kind: string): number {
  return isJobKind(kind) ? JOB_KINDS[kind].typicalMs : 10_000;
}

export interface Schedulable { id: string; kind: string; state: string; startedAt: number | null }
export interface Slot { position: number; eta: number }

/**
 * List scheduling over the device's slots: jobs on the device keep their slot for what remains of
 * their expected duration; queued jobs, in FIFO order, take the slot that frees first.
 */
export function schedule(jobs: readonly Schedulable[], concurrency: number, now: number, durationOf: (kind: string) => number): Map<string, Slot> {
  const free = new Array<number>(Math.max(1, concurrency)).fill(0);
  const out = new Map<string, Slot>();
  const take = (ms: number): number => {
    let best = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[best]!) best = i;
    free[best]! += ms;
    return free[best]!;
  };
  for (const j of jobs) {
    if (j.state === 'queued') continue;
    const elapsed = j.startedAt === null ? 0 : now - j.startedAt;
    out.set(j.id, { position: 0, eta: take(Math.max(0, durationOf(j.kind) - elapsed)) });
  }
  let position = 0;
  for (const j of jobs) {
    if (j.state !== 'queued') continue;
    out.set(j.id, { position: ++position, eta: take(durationOf(j.kind)) });
  }
  return out;
}
