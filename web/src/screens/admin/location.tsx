// One location: its machines with mode, presence and live lease (switch a machine between owned and
// pool, take it out), placing another machine here, the agents who may use the pool, the pool queue
// and the location's label. Leases change by the second, so the view is read again every 2 s.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { AgentDetail, AgentListItem, DeviceWithPresence, LocationDetail, LocationLabel } from '../../../../protocol/rest';
import { Alert, Field, Page, PresenceBadge } from '../../components/ui';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { useAction } from '../../lib/use-action';
import { usePolled } from '../../lib/use-polled';
import { clock, duration, errorText } from '../../lib/words';

const REFRESH_MS = 2000;
type Device = LocationDetail['devices'][number];

function leaseText(d: Device): string {
  if (d.mode === 'owned') return d.agent ? `Owned, held by ${d.agent}` : 'Owned, free to claim';
  if (d.lease === null) return d.presence.state === 'online' ? 'Free' : 'Free, offline (skipped)';
  return `Leased to ${d.lease.agent ?? 'an agent'} for job ${d.lease.job?.slice(0, 8) ?? ''} since ${clock(d.lease.since)}`;
}

function DeviceRow(props: { d: Device; run(msg: string, fn: () => Promise<unknown>): Promise<void> }): JSX.Element {
  const { d, run } = props;
  const name = d.machineCode ?? d.id;
  const other = d.mode === 'pool' ? 'owned' : 'pool';
  const patch = (body: Record<string, unknown>) => () => authed('PATCH', `/api/devices/${encodeURIComponent(d.id)}`, body);
  return (
    <li data-testid="location-device" data-device={d.id} data-mode={d.mode}>
      <strong>{name}</strong>
      <PresenceBadge status={d.presence} />
      <span class={d.mode === 'pool' ? 'state state-running' : 'state'}>{d.mode}</span>
      <span data-testid="device-lease">{leaseText(d)}</span>
      <span class="actions">
        <button
          type="button"
          class="secondary small"
          onClick={() => void run(`${name} is now ${other === 'pool' ? 'in the pool' : 'owned'}.`, patch({ mode: other }))}
        >
          {other === 'pool' ? 'Put in pool' : 'Make owned'}
        </button>
        <button
          type="button"
          class="secondary small"
          onClick={() => void run(`${name} left this location.`, patch({ location: null, ...(d.mode === 'pool' ? { mode: 'owned' } : {}) }))}
        >
          Remove
        </button>
      </span>
    </li>
  );
}

/** Choose one of a list and act on it (with any extra fields as children); the choice clears after. */
function PickForm(props: {
  label: string;
  field: { id: string; label: string; none: string };
  options: [string, string][];
  button: string;
  onPick(value: string): Promise<void>;
  children?: ComponentChildren;
}): JSX.Element {
  const [value, setValue] = useState('');
  return (
    <form
      class="inline-form"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        if (value !== '') void props.onPick(value).then(() => setValue(''));
      }}
    >
      <Field id={props.field.id} label={props.field.label}>
        <select id={props.field.id} value={value} onChange={(e) => setValue(e.currentTarget.value)}>
          <option value="">{props.field.none}</option>
          {props.options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      </Field>
      {props.children}
      <button type="submit" class="primary small" disabled={value === ''}>
        {props.button}
      </button>
    </form>
  );
}

export function AdminLocation(props: { id: string }): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const { error, setError, done, reload, run } = useAction();
  const path = `/api/locations/${encodeURIComponent(props.id)}`;
  const { data: detail, error: readError } = usePolled<LocationDetail>(path, REFRESH_MS, [reload, live.bindingsTick]);
  const [devices, setDevices] = useState<DeviceWithPresence[]>([]);
  const [agents, setAgents] = useState<AgentListItem[]>([]);
  const [label, setLabel] = useState<LocationLabel | null>(null);
  const [placeMode, setPlaceMode] = useState<'pool' | 'owned'>('pool');

  useEffect(() => {
    authed<DeviceWithPresence[]>('GET', '/api/devices').then(setDevices, (err: unknown) => setError(errorText(err)));
    authed<AgentListItem[]>('GET', '/api/agents').then(setAgents, (err: unknown) => setError(errorText(err)));
    authed<LocationLabel>('GET', `${path}/label`).then(setLabel, (err: unknown) => setError(errorText(err)));
  }, [path, reload]);

  /** An agent's locations are replaced as a whole, so read them first. */
  const setMembership = async (agent: string, join: boolean) => {
    const a = await authed<AgentDetail>('GET', `/api/agents/${encodeURIComponent(agent)}`);
    const locations = join ? [...new Set([...a.locations, props.id])] : a.locations.filter((l) => l !== props.id);
    await authed('PATCH', `/api/agents/${encodeURIComponent(agent)}`, { locations });
  };

  const here = new Set(detail?.devices.map((d) => d.id) ?? []);
  const elsewhere = devices.filter((d) => !here.has(d.id));
  const members = detail?.members ?? [];
  const others = agents.filter((a) => !members.includes(a.id));
  const leased = detail?.devices.filter((d) => d.lease !== null) ?? [];

  return (
    <Page title={detail ? `Location ${detail.name}` : 'Location'} back={{ href: '/admin/locations', label: 'Locations' }}>
      {(error ?? readError) && <Alert>{error ?? readError}</Alert>}
      {done && (
        <Alert kind="ok" testid="location-done">
          {done}
        </Alert>
      )}
      <section class="card" aria-labelledby="loc-devices-h">
        <h2 id="loc-devices-h">Machines here</h2>
        {detail?.devices.length === 0 && <p>No machines here yet. Place one below.</p>}
        <ul class="pool-devices">
          {detail?.devices.map((d) => (
            <DeviceRow key={d.id} d={d} run={run} />
          ))}
        </ul>
        <PickForm
          label="Place a machine here"
          field={{ id: 'place-device', label: 'Machine to place', none: 'Choose a machine…' }}
          options={elsewhere.map((d) => [d.id, `${d.machineCode ?? d.id}${d.location ? ` (now at ${d.location})` : ''}`])}
          button="Place"
          onPick={(id) =>
            run(`${id} placed here (${placeMode}).`, () => authed('PATCH', `/api/devices/${encodeURIComponent(id)}`, { location: props.id, mode: placeMode }))
          }
        >
          <Field id="place-mode" label="Binding mode">
            <select id="place-mode" value={placeMode} onChange={(e) => setPlaceMode(e.currentTarget.value as 'pool' | 'owned')}>
              <option value="pool">pool: any agent here, one job at a time</option>
              <option value="owned">owned: claimed for keeps</option>
            </select>
          </Field>
        </PickForm>
      </section>
      <section class="card" aria-labelledby="loc-leases-h">
        <h2 id="loc-leases-h">Live leases</h2>
        {leased.length === 0 ? (
          <p data-testid="no-leases">No machine is leased now.</p>
        ) : (
          <ul data-testid="leases">
            {leased.map((d) => (
              <li key={d.id} data-device={d.id}>
                {d.machineCode ?? d.id}: {d.lease!.agent} · job <span class="mono">{d.lease!.job?.slice(0, 8)}</span> · since {clock(d.lease!.since)}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section class="card" aria-labelledby="loc-queue-h">
        <h2 id="loc-queue-h">Pool queue</h2>
        {detail?.queue.length === 0 ? (
          <p>Nobody is waiting.</p>
        ) : (
          <ol data-testid="pool-queue">
            {detail?.queue.map((q) => (
              <li key={q.job}>
                {q.agent} · {q.kind} · waiting since {clock(q.queuedAt)} · a machine in about {duration(q.eta)}
              </li>
            ))}
          </ol>
        )}
      </section>
      <section class="card" aria-labelledby="loc-agents-h">
        <h2 id="loc-agents-h">Agents who use this pool</h2>
        {members.length === 0 && <p>No agent belongs here yet.</p>}
        <ul class="pool-devices" data-testid="members">
          {members.map((m) => (
            <li key={m} data-agent={m}>
              <span>{agents.find((a) => a.id === m)?.name ?? m}</span> <span class="mono">{m}</span>
              <button type="button" class="secondary small" onClick={() => void run(`${m} no longer uses this pool.`, () => setMembership(m, false))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
        <PickForm
          label="Add an agent"
          field={{ id: 'add-member', label: 'Agent to add', none: 'Choose an agent…' }}
          options={others.map((a) => [a.id, `${a.name} (${a.id})`])}
          button="Add"
          onPick={(id) => run(`${id} now uses this pool.`, () => setMembership(id, true))}
        />
      </section>
      {label && (
        <section class="card" aria-labelledby="loc-label-h">
          <h2 id="loc-label-h">Location label</h2>
          <p class="hint">Print it with npm run labels -- --location {props.id}. Scanning it picks this pool for the agent’s next job; it claims nothing.</p>
          <p class="mono" data-testid="location-label">
            {label.url}
          </p>
        </section>
      )}
    </Page>
  );
}
