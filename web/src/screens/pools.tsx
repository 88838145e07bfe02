// "Any free machine": the agent's locations with how many of their pool machines are free, and for
// one location the job forms that send the job to whichever machine is free (or to the back of the
// pool queue), plus the agent's own jobs waiting there. A scanned location label lands here too.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { LocationDetail, LocationListItem, LocationView } from '../../../protocol/rest';
import { NewJobForms } from '../components/job-forms';
import { A, Alert, Page } from '../components/ui';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { navigate } from '../lib/router';
import { authed } from '../lib/session';
import { usePolled } from '../lib/use-polled';
import { errorText } from '../lib/words';
import { PoolPlace } from './pool-job';

const REFRESH_MS = 3000;

const freeText = (free: number, devices: number): string => `${free} of ${devices} machine${devices === 1 ? '' : 's'} free`;

export function Pools(): JSX.Element {
  const { data, error } = usePolled<LocationListItem[]>('/api/locations', REFRESH_MS);
  return (
    <Page title="Any free machine">
      <p class="hint">Send a job to whichever machine at your location is free. You hold it only for that job.</p>
      {error && <Alert>{error}</Alert>}
      {data === null && !error && <p class="hint">Loading your locations…</p>}
      {data?.length === 0 && <p>You belong to no location yet. Ask your supervisor to add you to one.</p>}
      <ul class="cards" aria-label="Your locations">
        {data?.map((l) => (
          <li key={l.id} class="card" data-testid="location-card" data-location={l.id}>
            <A href={`/pools/${encodeURIComponent(l.id)}`} class="device-name">
              {l.name}
            </A>
            <p class="sub" data-testid="location-free">
              {freeText(l.free, l.devices)}
              {l.waiting > 0 && ` · ${l.waiting} job${l.waiting === 1 ? '' : 's'} waiting`}
            </p>
            <div class="actions">
              <A href={`/pools/${encodeURIComponent(l.id)}`} class="button primary">
                Use any free machine here
              </A>
            </div>
          </li>
        ))}
      </ul>
    </Page>
  );
}

export function PoolPage(props: { location: string }): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  const { data, error } = usePolled<LocationDetail>(`/api/locations/${encodeURIComponent(props.location)}`, REFRESH_MS);
  const pool = data?.devices.filter((d) => d.mode === 'pool') ?? [];
  const free = pool.filter((d) => d.lease === null && d.presence.state === 'online').length;
  const mine = Object.values(st.poolJobs)
    .filter((p) => p.location === props.location && p.state === 'waiting')
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  return (
    <Page title={data ? `Any free machine at ${data.name}` : 'Any free machine'} back={{ href: '/pools', label: 'Locations' }}>
      {error && <Alert>{error}</Alert>}
      {data && (
        <section class="card" aria-label="The pool now">
          <p data-testid="pool-free">{freeText(free, pool.length)}</p>
          <p class="sub">{data.queue.length === 0 ? 'Nobody is waiting.' : `${data.queue.length} job${data.queue.length === 1 ? '' : 's'} waiting in line.`}</p>
        </section>
      )}
      {mine.length > 0 && (
        <section class="card" aria-labelledby="mine-h">
          <h2 id="mine-h">Your jobs waiting here</h2>
          <ul class="queue" data-testid="my-pool-jobs">
            {mine.map((p) => (
              <li key={p.job}>
                <A href={`/pool-jobs/${encodeURIComponent(p.job)}`}>{p.kind}</A> · <PoolPlace job={p} />
              </li>
            ))}
          </ul>
        </section>
      )}
      <section class="card" aria-labelledby="pool-job-h">
        <h2 id="pool-job-h">New job on any free machine</h2>
        <NewJobForms agent={agent} to={{ pool: props.location }} />
      </section>
    </Page>
  );
}

/** A scanned location label: the broker checks its signature, then the app opens that pool. */
export function PoolLabel(props: { label: string }): JSX.Element {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    authed<LocationView>('POST', '/api/locations/resolve-label', { label: props.label }).then(
      (l) => navigate(`/pools/${encodeURIComponent(l.id)}`, { replace: true }),
      (err: unknown) => setError(errorText(err)),
    );
  }, [props.label]);
  return (
    <Page title="Location label" back={{ href: '/pools', label: 'Locations' }}>
      {error ? <Alert testid="label-refused">{error}</Alert> : <p class="hint">Checking the label…</p>}
    </Page>
  );
}
