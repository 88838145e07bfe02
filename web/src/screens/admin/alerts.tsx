// Every machine's alerts for admins (docs/architecture.md, Machine state): open ones first, with
// Acknowledge; the list reloads whenever an alert is raised, cleared or acknowledged anywhere
// (fb/v1/admin/alerts), so it stays current without a refresh.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { AlertView } from '../../../../protocol/rest';
import { A, Alert, Field, Page } from '../../components/ui';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { errorText, since } from '../../lib/words';

const KIND_WORDS: Record<AlertView['kind'], string> = {
  'consumable-low': 'Low supply',
  'machine-error': 'Machine error',
  offline: 'Offline',
  'job-failures': 'Jobs failing',
};

export function AdminAlerts(): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [state, setState] = useState<'open' | ''>('open');
  const [rows, setRows] = useState<AlertView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    authed<AlertView[]>('GET', `/api/alerts${state ? `?state=${state}` : ''}`).then(
      (r) => current && (setRows(r), setError(null)),
      (err: unknown) => current && setError(errorText(err)),
    );
    // A list for a filter the admin already left must not replace the newer one.
    return () => void (current = false);
  }, [state, live.alertsTick]);

  const ack = async (a: AlertView) => {
    setBusy(a.id);
    setError(null);
    try {
      const acked = await authed<AlertView>('POST', `/api/alerts/${encodeURIComponent(a.id)}/ack`, {});
      setRows((rs) => (rs ?? []).map((x) => (x.id === acked.id ? acked : x)));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Page title="Alerts">
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field id="alerts-state" label="Show">
          <select id="alerts-state" value={state} onChange={(e) => setState(e.currentTarget.value as 'open' | '')}>
            <option value="open">open</option>
            <option value="">all</option>
          </select>
        </Field>
      </form>
      {error && <Alert>{error}</Alert>}
      {rows === null && !error && <p class="hint">Loading…</p>}
      {rows !== null && rows.length === 0 && (
        <p class="hint" data-testid="alerts-empty">
          {state === 'open' ? 'No open alerts.' : 'No alerts yet.'}
        </p>
      )}
      <ul class="cards" aria-label="Alerts">
        {(rows ?? []).map((a) => (
          <li
            key={a.id}
            class={`card alert-row alert-${a.state}`}
            data-testid="alert-row"
            data-alert={a.id}
            data-kind={a.kind}
            data-state={a.state}
            data-acked={a.ackedAt === null ? 'no' : 'yes'}
          >
            <p class="row">
              <strong>{KIND_WORDS[a.kind]}</strong>
              <span class={`state alert-state-${a.state}`}>{a.state}</span>
            </p>
            <p>{a.message}</p>
            <p class="sub">
              <A href={`/admin/devices/${encodeURIComponent(a.device)}`} class="mono">
                {a.device}
              </A>{' '}
              · raised {since(a.raisedAt)}
              {a.clearedAt !== null && <> · cleared {since(a.clearedAt)}</>}
            </p>
            {a.ackedAt === null ? (
              <p class="row">
                <button
                  type="button"
                  class="secondary small"
                  disabled={busy === a.id}
                  onClick={() => void ack(a)}
                  aria-label={`Acknowledge ${KIND_WORDS[a.kind].toLowerCase()} on ${a.device}`}
                >
                  {busy === a.id ? 'Acknowledging…' : 'Acknowledge'}
                </button>
              </p>
            ) : (
              <p class="sub" data-testid="alert-acked">
                Acknowledged by {a.ackedBy} {since(a.ackedAt)}
              </p>
            )}
          </li>
        ))}
      </ul>
    </Page>
  );
}
