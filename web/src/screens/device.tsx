// One machine: live presence, the job on it and the queue behind it (with cancel), a form per
// job kind, and Release. If the machine is released or transferred away, the page says so.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { HistoryChart } from '../components/history-chart';
import { JobLine } from '../components/jobs';
import { MachineState, jobOnMachine } from '../components/machine-state';
import { NewJobForms } from '../components/job-forms';
import { A, Alert, Page, PresenceBadge } from '../components/ui';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { navigate } from '../lib/router';
import { errorText } from '../lib/words';
import { ReleaseButton } from './devices';

export function CancelButton(props: { job: string }): JSX.Element {
  const agent = useAgent();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        class="secondary"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await agent.cancel(props.job);
          } catch (err) {
            setError(errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? 'Cancelling…' : 'Cancel job'}
      </button>
      {error && <Alert>{error}</Alert>}
    </>
  );
}

export function DevicePage(props: { id: string }): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  const d = st.devices.find((x) => x.id === props.id);
  if (!d) {
    return (
      <Page title="Machine" back={{ href: '/devices', label: 'My machines' }}>
        {st.loaded ? (
          <Alert kind="info" testid="device-gone">
            This machine is not yours (any more). It may have been released or transferred by your supervisor.
          </Alert>
        ) : (
          <p class="hint">Loading…</p>
        )}
      </Page>
    );
  }
  const queue = (st.queues[d.id] ?? []).map((id) => st.jobs[id]).filter((j) => j !== undefined);
  return (
    <Page title={d.machineCode ?? d.id} back={{ href: '/devices', label: 'My machines' }}>
      <section class="card" aria-label="Status">
        <p>
          <PresenceBadge status={st.status[d.id]} detail />
        </p>
        <p class="sub">
          {d.model ?? 'unknown model'} · <span class="mono">{d.id}</span>
        </p>
      </section>
      <section class="card" aria-labelledby="machine-h">
        <h2 id="machine-h">Machine</h2>
        <MachineState presence={st.status[d.id]} shadow={st.shadows[d.id]} alerts={st.alerts[d.id]} jobRunning={jobOnMachine(st, d.id)} />
        <h3>Levels, last 7 days</h3>
        <HistoryChart machine={d.id} version={st.shadows[d.id]?.version} />
      </section>
      <section class="card" aria-labelledby="queue-h">
        <h2 id="queue-h">Jobs</h2>
        {queue.length === 0 ? (
          <p data-testid="queue-empty">No jobs. Start one below.</p>
        ) : (
          <ol class="queue" data-testid="queue">
            {queue.map((j) => (
              <li key={j.job} data-job={j.job}>
                <JobLine job={j} />
                <span class="actions">
                  <A href={`/devices/${encodeURIComponent(d.id)}/jobs/${encodeURIComponent(j.job)}`} class="button secondary">
                    Details
                  </A>
                  <CancelButton job={j.job} />
                </span>
              </li>
            ))}
          </ol>
        )}
        <p>
          <A href={`/history?device=${encodeURIComponent(d.id)}`}>Job history</A>
        </p>
      </section>
      <section class="card" aria-labelledby="new-job-h">
        <h2 id="new-job-h">New job</h2>
        <NewJobForms agent={agent} to={{ device: d.id }} />
      </section>
      {d.lease ? (
        <section class="card" aria-label="Lease">
          <p data-testid="lease-note">You have this machine from the pool at {d.lease.location} for your job. It goes back to the pool when the job ends.</p>
        </section>
      ) : (
        <section class="card" aria-label="Release">
          <ReleaseButton agent={agent} device={d} onDone={() => navigate('/devices')} />
        </section>
      )}
    </Page>
  );
}
