// How jobs look to agents, admins and the REST API. Times are converted with Number() because
// PostgreSQL returns bigint columns as strings.
import { JOB_STATES, type JobState } from '../../protocol/jobs';
import type { JobView } from '../../protocol/rest';
import type { Route } from '../../protocol/messages';
import type { Slot } from './eta';
import type { JobRow } from './schema';
import { STATE_TIME } from './store';

export type JobError = NonNullable<JobView['error']>;

const n = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function jobView(r: JobRow, slot?: Slot): JobView {
  const times: Partial<Record<JobState, number>> = {};
  for (const s of JOB_STATES) {
    const t = n(r[STATE_TIME[s]]);
    if (t !== null) times[s] = t;
  }
  return {
    job: r.id,
    device: r.device,
    agent: r.agent,
    kind: r.kind,
    params: JSON.parse(r.params) as Record<string, unknown>,
    state: r.state,
    hold: Number(r.hold) === 1,
    attempt: Number(r.attempt),
    retries: Number(r.retries),
    progress: n(r.progress),
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    error: r.error_code === null ? null : { code: r.error_code, message: r.error ?? '' },
    pending: r.control,
    idempotencyKey: r.idempotency_key,
    expiresAt: Number(r.expires_at),
    times,
    position: slot?.position ?? null,
    eta: slot === undefined ? null : Math.round(slot.eta),
    ...(r.pool ? { pool: r.pool } : {}),
    ...(r.route ? { route: r.route as Route } : {}),
  };
}
