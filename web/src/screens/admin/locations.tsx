// Locations: every location with its pool at a glance (machines, free, waiting), and a form to
// create one. Each links to its own screen, where machines and agents are placed.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { LocationListItem } from '../../../../protocol/rest';
import { A, Alert, Field, Page } from '../../components/ui';
import { authed } from '../../lib/session';
import { errorText } from '../../lib/words';

export function AdminLocations(): JSX.Element {
  const [rows, setRows] = useState<LocationListItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [id, setId] = useState('');
  const [name, setName] = useState('');

  useEffect(() => {
    authed<LocationListItem[]>('GET', '/api/locations').then(setRows, (err: unknown) => setError(errorText(err)));
  }, [reload]);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await authed('POST', '/api/locations', { id: id.trim(), name: name.trim() });
      setId('');
      setName('');
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <Page title="Locations">
      <p class="hint">A location’s pool machines serve its agents one job at a time: any free machine takes the next job.</p>
      {error && <Alert>{error}</Alert>}
      <section class="card" aria-labelledby="new-loc-h">
        <h2 id="new-loc-h">New location</h2>
        <form class="stack" onSubmit={create} aria-label="New location">
          <div class="two">
            <Field id="loc-id" label="Id" hint="Short, such as hall or shop-2.">
              <input id="loc-id" required maxLength={64} value={id} onInput={(e) => setId(e.currentTarget.value)} aria-describedby="loc-id-hint" />
            </Field>
            <Field id="loc-name" label="Name">
              <input id="loc-name" required maxLength={128} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </Field>
          </div>
          <button type="submit" class="primary">
            Create location
          </button>
        </form>
      </section>
      {rows?.length === 0 && <p>No locations yet.</p>}
      <ul class="cards" aria-label="Locations">
        {rows?.map((l) => (
          <li key={l.id} class="card" data-testid="admin-location" data-location={l.id}>
            <A href={`/admin/locations/${encodeURIComponent(l.id)}`} class="device-name">
              {l.name}
            </A>
            <p class="sub">
              <span class="mono">{l.id}</span> · {l.devices} pool machine{l.devices === 1 ? '' : 's'}, {l.free} free · {l.waiting} waiting
            </p>
          </li>
        ))}
      </ul>
    </Page>
  );
}
