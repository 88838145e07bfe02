// "My machines": every machine the agent holds (claimed, or leased from a pool for one job), with
// live presence, what the machine is doing (status, ink, alerts), the current job, the queue
// length, and Release for a claimed one.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { BoundDevice } from '../../../protocol/messages';
import { JobLine } from '../components/jobs';
import { MachineState, jobOnMachine } from '../components/machine-state';
import { A, Alert, Page, PresenceBadge } from '../components/ui';
import { type AgentLive, isOpen } from '../lib/agent-live';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { errorText, jobKindText, jobStatusText, jobSummary } from '../lib/words';

export function ReleaseButton(props: { agent: AgentLive; device: BoundDevice; onDone?: () => void }): JSX.Element {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const name = props.device.machineCode ?? props.device.id;
  const st = useObservable(props.agent.state);
  const open = (st.queues[props.device.id] ?? []).map((id) => st.jobs[id]).filter((j) => j !== undefined && isOpen(j.state));
  const release = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.agent.release(props.device.id);
      props.onDone?.();
    } catch (err) {
      setError(errorText(err));
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="release">
      {!confirming ? (
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>
          Release
        </button>
      ) : (
        <div class="confirm" role="group" aria-label={`Release ${name}?`}>
          <p>Release {name}? Another agent can then claim it.</p>
          {open.length > 0 && (
            <>
              <p>Releasing cancels {open.length === 1 ? 'this job' : `these ${open.length} jobs`}:</p>
              <ul data-testid="release-cancels">
                {open.map((j) => (
                  <li key={j.job}>
                    {jobKindText(j)} {jobSummary(j)} ({jobStatusText(j)})
                  </li>
                ))}
              </ul>
            </>
          )}
          <button type="button" class="danger" onClick={release} disabled={busy}>
            {busy ? 'Releasing…' : `Yes, release ${name}`}
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      )}
      {error && <Alert>{error}</Alert>}
    </div>
  );
}

export function Devices(): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  return (
    <Page title="My machines">
      {!st.loaded && <p class="hint">Loading your machines…</p>}
      {st.loaded && st.devices.length === 0 && (
        <div class="card empty">
          <p>You hold no machines. Scan a machine’s QR label to claim it.</p>
          <A href="/scan" class="button primary">
            Scan a machine
          </A>
        </div>
      )}
      <ul class="cards" aria-label="Machines you hold">
        {st.devices.map((d) => {
          const queue = st.queues[d.id] ?? [];
          const current = queue.map((id) => st.jobs[id]).find((j) => j && j.position === 0);
          const waiting = queue.filter((id) => (st.jobs[id]?.position ?? 0) > 0).length;
          return (
            <li key={d.id} class="card device" data-testid="device-card" data-device={d.id}>
              <A href={`/devices/${encodeURIComponent(d.id)}`} class="device-name">
                {d.machineCode ?? d.id}
              </A>
              <p class="sub">
                {d.model ?? 'unknown model'} · <span class="mono">{d.id}</span>
              </p>
              <p class="sub" data-testid="presence-detail">
                <PresenceBadge status={st.status[d.id]} detail />
              </p>
              <MachineState presence={st.status[d.id]} shadow={st.shadows[d.id]} alerts={st.alerts[d.id]} jobRunning={jobOnMachine(st, d.id)} />
              <p data-testid="current-job">{current ? <JobLine job={current} /> : 'No job running'}</p>
              <p data-testid="queue-length">{waiting === 0 ? 'Queue empty' : `${waiting} job${waiting === 1 ? '' : 's'} waiting`}</p>
              {d.lease && (
                <p class="lease" data-testid="lease-badge">
                  From the pool at {d.lease.location}, for your job only
                </p>
              )}
              <div class="actions">
                <A href={`/devices/${encodeURIComponent(d.id)}`} class="button primary">
                  Open
                </A>
                {!d.lease && <ReleaseButton agent={agent} device={d} />}
              </div>
            </li>
          );
        })}
      </ul>
    </Page>
  );
}
