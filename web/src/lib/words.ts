// Everything the app says to a person about errors, presence and time, in plain words.
import type { OfflineReason, Status } from '../../../protocol/messages';
import type { JobState } from '../../../protocol/jobs';
import { kindWords, statusWords } from '../../../protocol/job-words';
import { ApiError } from './api';

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString([], {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
}

/** "10:42" today, "3 Mar 10:42" on another day. */
export function since(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return clock(ms);
  return `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${clock(ms)}`;
}

export function money(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amount);
  } catch {
    // Not an ISO 4217 code the browser knows: show it as typed.
    return `${amount.toFixed(2)} ${currency}`;
  }
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The error a person sees for a failed request. */
export function errorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? `Something went wrong: ${err.message}` : 'Something went wrong.';
  const e = err.wire;
  switch (e.code) {
    case 'BOUND_TO_OTHER':
      return e.since === undefined
        ? 'This machine is in use by another agent. Ask your supervisor to transfer it.'
        : `This machine is in use by another agent since ${since(e.since)}. Ask your supervisor to transfer it.`;
    case 'UNKNOWN_MACHINE':
      return 'This label is not valid.';
    case 'LIMIT': {
      const n = /hold (\d+)/.exec(e.message)?.[1];
      return n === undefined
        ? 'You already hold as many devices as you may (your limit).'
        : `You already hold ${n} device${n === '1' ? '' : 's'} (your limit).`;
    }
    case 'RESERVED':
      return 'This machine is reserved by a job that is still running (for example a payment QR waiting for payment). Cancel or finish that job first.';
    case 'NOT_BOUND':
      return 'This machine is no longer yours. It may have been released or transferred.';
    case 'QUEUE_FULL':
      return 'This machine’s queue is full. Wait until a job finishes and try again.';
    case 'UNSUPPORTED':
      return `This machine cannot do that: ${e.message}.`;
    case 'BAD_PARAMS':
    case 'BAD_REQUEST':
    case 'BAD_ID':
      return `Please check ${e.field ? `“${e.field}”` : 'the form'}: ${e.message}.`;
    case 'UNAUTHORIZED':
      return e.message === 'wrong id or password' ? 'Wrong ID or password.' : 'Your session has expired. Please sign in again.';
    case 'FORBIDDEN':
      return e.message.includes('disabled') ? 'This account is disabled. Ask your supervisor.' : 'You are not allowed to do that.';
    case 'RATE_LIMITED':
      return `Too many attempts: ${e.message}.`;
    case 'NOT_FOUND':
      return `Not found: ${e.message}.`;
    case 'UNAVAILABLE':
      return `No connection: ${e.message}.`;
    default:
      return `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}.`;
  }
}

const REASONS: Record<OfflineReason, string> = {
  clean: 'it disconnected normally',
  keepalive: 'it stopped responding',
  socket: 'its connection was lost',
  takeover: 'a newer connection replaced it',
  kicked: 'an administrator disconnected it',
  'broker-restart': 'the server restarted',
  'never-connected': 'it has never connected',
};

export function presenceLabel(s: Status | undefined): string {
  if (!s) return 'unknown';
  return s.state;
}

export function presenceDetail(s: Status | undefined): string {
  if (!s) return 'Waiting for the machine’s status…';
  const at = s.since > 0 ? ` since ${since(s.since)}` : '';
  switch (s.state) {
    case 'online':
      return `Online${at}`;
    case 'reconnecting':
      return `Reconnecting${at}${s.reason ? `: ${REASONS[s.reason]}` : ''}`;
    case 'offline':
      return `Offline${at}${s.reason ? `: ${REASONS[s.reason]}` : ''}`;
  }
}

/** A job's kind and status in the shared words (protocol/job-words.ts). */
export const jobKindText = (j: { kind: string }): string => kindWords(j.kind);
export const jobStatusText = (j: { kind: string; state: JobState; params: Record<string, unknown> | null; error: { code: string } | null }): string =>
  statusWords({ kind: j.kind, state: j.state, hold: j.params?.hold === true, error: j.error });

/** What a job is, in a few words: amount and reference for a payment, the key params otherwise. */
export function jobSummary(j: { kind: string; params: Record<string, unknown> | null }): string {
  const p = j.params ?? {};
  if (j.kind === 'qr.show') {
    const amount = typeof p.amount === 'number' ? money(p.amount, String(p.currency ?? '')) : null;
    return [amount, typeof p.caption === 'string' && p.caption !== '' ? p.caption : null].filter((x) => x !== null).join(' · ');
  }
  if (j.kind === 'identify' && typeof p.seconds === 'number') return `for ${p.seconds} s`;
  if (j.kind === 'serial.send' && typeof p.data === 'string') return `${Math.floor((p.data.length * 3) / 4) - (p.data.match(/=+$/)?.[0].length ?? 0)} bytes`;
  return '';
}
