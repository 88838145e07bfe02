// The words a person reads for a job's kind and state: one table for the web app, job exports,
// the `fleet` CLI and (later) webhooks, so none of them can call an unpaid QR "Done"
// (docs/architecture.md, Jobs).
import type { JobState } from './jobs';

/** What a job's words depend on: a held qr.show is a payment, any other QR is only shown. */
export interface JobFacts {
  kind: string;
  state: JobState;
  hold?: boolean;
  error?: { code: string } | null;
}

/** Each state on its own, as a step in a timeline. */
export const STATE_WORDS: Record<JobState, string> = {
  queued: 'Waiting in queue',
  dispatched: 'Sent to machine',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  expired: 'Expired',
  interrupted: 'Interrupted',
};

const KIND_WORDS: Record<string, string> = { 'qr.show': 'Payment QR', identify: 'Identify', 'serial.send': 'Serial send', print: 'Print order' };

/** What a job is. Whether a payment QR was paid is its status's to say, never its kind's. */
export function kindWords(kind: string): string {
  return KIND_WORDS[kind] ?? kind;
}

/** The job's status in words, e.g. "Paid", "Expired – not paid", "Cancelled – machine transferred or released". */
export function statusWords(j: JobFacts): string {
  const payment = j.kind === 'qr.show' && j.hold === true;
  const qr = j.kind === 'qr.show';
  switch (j.state) {
    case 'running':
      return payment ? 'Waiting for payment' : qr ? 'Showing the QR' : STATE_WORDS.running;
    case 'done':
      return payment ? 'Paid' : qr ? 'Shown' : STATE_WORDS.done;
    case 'expired':
      return payment ? 'Expired – not paid' : STATE_WORDS.expired;
    case 'cancelled':
      if (j.error?.code === 'UNBOUND') return 'Cancelled – machine transferred or released';
      return payment ? 'Cancelled – not paid' : STATE_WORDS.cancelled;
    default:
      return STATE_WORDS[j.state];
  }
}
