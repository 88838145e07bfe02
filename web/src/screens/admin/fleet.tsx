// The fleet table: every device with machine code, model, firmware, live presence, bound agent,
// since when, and queue depth; filter by presence and binding, search by any of the names.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { DeviceWithPresence } from '../../../../protocol/rest';
import { A, Alert, Field, Page, PresenceBadge } from '../../components/ui';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { errorText, since } from '../../lib/words';
import { TransferRequests } from './transfer-requests';

export function Fleet(): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [rows, setRows] = useState<DeviceWithPresence[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [q, setQ] = useState('');
  const [presence, setPresence] = useState('all');
  const [bound, setBound] = useState('all');

  useEffect(() => {
    authed<DeviceWithPresence[]>('GET', '/api/devices').then(
      (r) => (setRows(r), setError(null)),
      (err: unknown) => setError(errorText(err)),
    );
  }, [live.bindingsTick]);

  const needle = q.trim().toLowerCase();
  const shown = (rows ?? [])
    .map((r) => ({ ...r, presence: live.status[r.id] ?? r.presence }))
    .filter((r) => presence === 'all' || r.presence.state === presence)
    .filter((r) => bound === 'all' || (bound === 'bound') === (r.agent !== null))
    .filter((r) => needle === '' || [r.id, r.machineCode, r.model, r.agent, r.fw, r.mac].some((v) => v?.toLowerCase().includes(needle)));

  return (
    <Page title="Fleet">
      <p class="actions">
        <A class="button secondary small" href="/admin/devices/new">
          Add device
        </A>
      </p>
      <TransferRequests />
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field id="fleet-q" label="Search">
          <input id="fleet-q" type="search" placeholder="device, machine code, agent, model" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </Field>
        <Field id="fleet-presence" label="Presence">
          <select id="fleet-presence" value={presence} onChange={(e) => setPresence(e.currentTarget.value)}>
            <option value="all">all</option>
            <option value="online">online</option>
            <option value="reconnecting">reconnecting</option>
            <option value="offline">offline</option>
          </select>
        </Field>
        <Field id="fleet-bound" label="Binding">
          <select id="fleet-bound" value={bound} onChange={(e) => setBound(e.currentTarget.value)}>
            <option value="all">all</option>
            <option value="bound">bound</option>
            <option value="free">free</option>
          </select>
        </Field>
      </form>
      {error && <Alert>{error}</Alert>}
      {rows === null && !error && <p class="hint">Loading the fleet…</p>}
      {rows !== null && (
        <p role="status" class="hint">
          {shown.length} of {rows.length} devices
        </p>
      )}
      <div class="table-wrap" role="region" aria-label="Devices" tabIndex={0}>
        <table data-testid="fleet">
          <thead>
            <tr>
              <th scope="col">Machine / device</th>
              <th scope="col">Presence</th>
              <th scope="col">Agent</th>
              <th scope="col">Since</th>
              <th scope="col">Queue</th>
              <th scope="col">Model</th>
              <th scope="col">FW</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} data-device={r.id}>
                <th scope="row">
                  <A href={`/admin/devices/${encodeURIComponent(r.id)}`}>{r.machineCode ?? r.id}</A>
                  {r.machineCode !== null && <span class="cell-sub mono">{r.id}</span>}
                </th>
                <td>
                  <PresenceBadge status={r.presence} />
                </td>
                <td data-testid="fleet-agent">{r.agent ?? 'free'}</td>
                <td>{r.boundAt !== null && r.agent !== null ? since(r.boundAt) : '—'}</td>
                <td>{live.queueDepth[r.id] ?? 0}</td>
                <td>{r.model ?? '—'}</td>
                <td>{r.fw ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
