// Jobs for an admin, newest first, with a Cancel button on each that is still open: the whole
// fleet's (the Jobs page) or one device's (its page). Reloads when any device's queue changes.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { JobListItem, JobView } from '../../../protocol/rest';
import { useAdmin } from '../lib/live';
import { useObservable } from '../lib/observable';
import { authed } from '../lib/session';
import { dateTime, errorText, jobKindText, jobStatusText, jobSummary } from '../lib/words';
import { A, Alert } from './ui';

const OPEN = new Set(['queued', 'dispatched', 'running']);

export function AdminJobs(props: { device?: string; state?: string; agent?: string; limit?: number }): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [rows, setRows] = useState<JobListItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  // A queue snapshot from any device (or one device) means its jobs moved on.
  const queueKey = props.device ? String(live.queueDepth[props.device] ?? '') : JSON.stringify(live.queueDepth);

  useEffect(() => {
    const q = new URLSearchParams({ limit: String(props.limit ?? 100) });
    if (props.device) q.set('device', props.device);
    if (props.state) q.set('state', props.state);
    if (props.agent) q.set('agent', props.agent);
    authed<JobListItem[]>('GET', `/api/jobs?${q}`).then(
      (r) => (setRows(r), setError(null)),
      (err: unknown) => setError(errorText(err)),
    );
  }, [props.device, props.state, props.agent, props.limit, queueKey, live.bindingsTick, reload]);

  const cancel = async (j: JobListItem) => {
    setError(null);
    setNotice(null);
    try {
      const v = await authed<JobView>('POST', `/api/jobs/${encodeURIComponent(j.job)}/cancel`);
      setNotice(v.state === 'cancelled' ? `Job ${j.job} cancelled.` : `Job ${j.job}: the device was told to stop.`);
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <>
      {notice && (
        <Alert kind="ok" testid="jobs-done">
          {notice}
        </Alert>
      )}
      {error && <Alert testid="jobs-error">{error}</Alert>}
      {rows === null && !error && <p class="hint">Loading jobs…</p>}
      {rows !== null && rows.length === 0 && <p class="hint">No jobs.</p>}
      {rows !== null && rows.length > 0 && (
        <ul class="job-rows" data-testid="admin-jobs">
          {rows.map((j) => (
            <li key={j.job} data-job={j.job} data-state={j.state}>
              <div class="job-main">
                <strong>{jobKindText(j)}</strong> {jobSummary(j) !== '' && <span>{jobSummary(j)}</span>}{' '}
                <span class={`state state-${j.state}`} data-testid="job-state">
                  {jobStatusText(j)}
                </span>
              </div>
              <div class="cell-sub">
                {!props.device && (
                  <>
                    <A href={`/admin/devices/${encodeURIComponent(j.device)}`}>{j.device}</A> ·{' '}
                  </>
                )}
                agent {j.agent} · {j.times.queued ? dateTime(j.times.queued) : '—'} · <span class="mono">{j.job}</span>
              </div>
              {OPEN.has(j.state) && (
                <button type="button" class="danger small" onClick={() => void cancel(j)} aria-label={`Cancel job ${j.job}`}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
