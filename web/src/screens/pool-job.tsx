// One job sent to a pool: while it waits, its place in the pool queue and when a machine is
// expected to take it, live; once a machine took it, which one, that the agent holds it for this
// job only, and the job as on any machine.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { JobLine } from '../components/jobs';
import { A, Alert, Page } from '../components/ui';
import type { PoolJobTrack } from '../lib/agent-live';
import { useAgent } from '../lib/live';
import { useObservable, useTick } from '../lib/observable';
import { duration, errorText } from '../lib/words';
import { CancelButton } from './device';

/** "Number 2 in line · a machine in about 40 s", counting down. */
export function PoolPlace(props: { job: PoolJobTrack }): JSX.Element {
  const now = useTick(1000);
  const { position, eta, etaAt } = props.job;
  const left = eta === null ? null : eta - (now - etaAt);
  return (
    <span data-testid="pool-place" data-position={position ?? ''}>
      {position === 1 ? 'Next in line' : `Number ${position ?? '?'} in line`}
      {left !== null && (left > 1000 ? ` · a machine in about ${duration(left)}` : ' · a machine any moment')}
    </span>
  );
}

export function PoolJobPage(props: { job: string }): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  const [error, setError] = useState<string | null>(null);
  const p = st.poolJobs[props.job];
  useEffect(() => {
    if (p === undefined) agent.followPoolJob(props.job).catch((err: unknown) => setError(errorText(err)));
  }, [props.job, p === undefined]);
  if (!p) {
    return (
      <Page title="Pool job" back={{ href: '/pools', label: 'Locations' }}>
        {error ? <Alert>{error}</Alert> : <p class="hint">Loading…</p>}
      </Page>
    );
  }
  const back = { href: `/pools/${encodeURIComponent(p.location)}`, label: `Pool at ${p.location}` };
  if (p.state === 'waiting') {
    return (
      <Page title="Waiting for a free machine" back={back}>
        <section class="card" aria-label="Place in line" data-testid="pool-waiting">
          <p>Every machine at {p.location} that can do this is busy. Your job is in line and goes to the first one that is free.</p>
          <p class="pool-place">
            <PoolPlace job={p} />
          </p>
          <CancelButton job={p.job} />
        </section>
      </Page>
    );
  }
  if (p.state !== 'assigned' || p.device === null) {
    return (
      <Page title="Pool job" back={back}>
        <Alert kind="info" testid="pool-ended">
          {p.state === 'cancelled'
            ? 'You cancelled this job before a machine took it.'
            : 'No machine became free in time, so this job expired in line. Send it again if you still need it.'}
        </Alert>
      </Page>
    );
  }
  const device = st.devices.find((d) => d.id === p.device);
  const name = device?.machineCode ?? p.device;
  const job = st.jobs[p.job];
  return (
    <Page title={`${name} took your job`} back={back}>
      <section class="card" aria-label="Machine" data-testid="pool-assigned" data-device={p.device}>
        <p>
          Go to <strong data-testid="pool-machine">{name}</strong> <span class="mono">({p.device})</span>.
        </p>
        <p class="sub" data-testid="pool-lease">
          {device?.lease
            ? `It is yours for this job only; it goes back to the pool at ${p.location} when the job ends.`
            : 'The job has ended and the machine went back to the pool.'}
        </p>
        {job && (
          <p>
            <JobLine job={job} />
          </p>
        )}
        <A href={`/devices/${encodeURIComponent(p.device)}/jobs/${encodeURIComponent(p.job)}`} class="button secondary">
          Job details
        </A>
      </section>
    </Page>
  );
}
