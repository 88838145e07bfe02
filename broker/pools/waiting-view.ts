// A pool job that no device has taken yet, as GET /api/jobs/<id> shows it (docs/architecture.md,
// Locations and pools): it has no device, its state is queued while it waits (cancelled or expired
// if it left the pool queue that way), and its position and ETA are its place in the pool queue.
import type { JobState } from '../../protocol/jobs';
import type { Route } from '../../protocol/messages';
import type { JobView } from '../../protocol/rest';
import type { PoolEntryRow } from '../store/schema';

const STATES: Record<string, JobState> = { waiting: 'queued', cancelled: 'cancelled', expired: 'expired' };
const ERRORS: Record<string, NonNullable<JobView['error']>> = {
  cancelled: { code: 'CANCELLED', message: 'cancelled while it waited in the pool queue' },
  expired: { code: 'EXPIRED', message: 'waited in the pool queue past its ttl; no device took it' },
};

/** The entry's view; undefined once a device took it (the job row tells its story from then on). */
export function waitingJobView(e: PoolEntryRow, place: { position: number; eta: number } | undefined): JobView | undefined {
  const state = STATES[e.state];
  if (state === undefined) return undefined;
  const times: JobView['times'] = { queued: Number(e.queued_at) };
  if (state !== 'queued' && e.decided_at !== null) times[state] = Number(e.decided_at);
  return {
    job: e.id,
    device: null,
    agent: e.agent,
    kind: e.kind,
    params: JSON.parse(e.params) as Record<string, unknown>,
    state,
    hold: Number(e.hold) === 1,
    attempt: 0,
    retries: 0,
    progress: null,
    result: null,
    error: ERRORS[e.state] ?? null,
    pending: null,
    idempotencyKey: e.idempotency_key,
    expiresAt: Number(e.expires_at),
    times,
    position: place?.position ?? null,
    eta: place?.eta ?? null,
    pool: e.location,
    route: e.route as Route,
  };
}
