// Job history per machine, newest first, with CSV and JSON export of each job.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ExportButtons } from '../components/export';
import { A, Alert, Field, Page } from '../components/ui';
import type { JobView } from '../../../protocol/rest';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { authed } from '../lib/session';
import { navigate, queryParam, usePath } from '../lib/router';
import { dateTime, errorText, jobKindText, jobStatusText, money } from '../lib/words';

export function History(): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  const linkState = useObservable(agent.link.state);
  const path = usePath();
  const device = queryParam(path, 'device') ?? st.devices[0]?.id ?? null;
  const [views, setViews] = useState<JobView[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!st.loaded || linkState !== 'online') return;
    setViews(null);
    setError(null);
    // Without a machine (all released), the agent's own jobs on every machine, from the job list.
    const load = device === null ? authed<JobView[]>('GET', '/api/jobs?limit=100') : agent.history(device, 100);
    load.then(setViews, (err: unknown) => setError(errorText(err)));
  }, [device, linkState, st.loaded]);

  return (
    <Page title="Job history">
      {device !== null && (
        <Field id="history-device" label="Machine">
          <select
            id="history-device"
            value={device ?? ''}
            onChange={(e) => navigate(`/history?device=${encodeURIComponent(e.currentTarget.value)}`, { replace: true })}
          >
            {device !== null && !st.devices.some((d) => d.id === device) && <option value={device}>{device}</option>}
            {st.devices.map((d) => (
              <option key={d.id} value={d.id}>
                {d.machineCode ?? d.id}
              </option>
            ))}
          </select>
        </Field>
      )}
      {device === null && <p>You hold no machines now. These are your jobs on the machines you held.</p>}
      {error && <Alert>{error}</Alert>}
      {views && views.length === 0 && <p>{device === null ? 'You have no jobs yet.' : 'No jobs on this machine yet.'}</p>}
      {views && views.length > 0 && (
        <ul class="cards" data-testid="history">
          {views.map((v) => (
            <li key={v.job} class="card">
              <p>
                {v.device === null ? (
                  jobKindText(v)
                ) : (
                  <A href={`/devices/${encodeURIComponent(v.device)}/jobs/${encodeURIComponent(v.job)}`}>{jobKindText(v)}</A>
                )}{' '}
                · <span data-testid="history-status">{jobStatusText(v)}</span>
              </p>
              {v.kind === 'qr.show' && typeof v.params.amount === 'number' && (
                <p>
                  {money(v.params.amount, String(v.params.currency ?? ''))} · {String(v.params.caption ?? '')}
                </p>
              )}
              <p class="sub">{v.times.queued !== undefined && dateTime(v.times.queued)}</p>
              <ExportButtons job={v.job} />
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
