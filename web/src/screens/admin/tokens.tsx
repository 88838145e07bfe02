// Enrollment tokens: create (shown once), list with their state, revoke.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Alert, Field, Page } from '../../components/ui';
import { authed } from '../../lib/session';
import { dateTime, errorText } from '../../lib/words';
import type { EnrollmentTokenView, NewEnrollmentToken } from '../../../../protocol/rest';

function stateOf(t: EnrollmentTokenView): string {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt <= Date.now()) return 'expired';
  if (t.usesLeft <= 0) return 'used up';
  return 'active';
}

export function AdminTokens(): JSX.Element {
  const [rows, setRows] = useState<EnrollmentTokenView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ id: string; token: string } | null>(null);
  const [uses, setUses] = useState('10');
  const [expiresIn, setExpiresIn] = useState('24h');
  const [allowMachineCodes, setAllowMachineCodes] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    authed<EnrollmentTokenView[]>('GET', '/api/enrollment-tokens').then(setRows, (err: unknown) => setError(errorText(err)));
  }, [reload]);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await authed<NewEnrollmentToken>('POST', '/api/enrollment-tokens', { uses: Number(uses), expiresIn: expiresIn.trim(), allowMachineCodes });
      setCreated(r);
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const revoke = async (id: string) => {
    setError(null);
    try {
      await authed('DELETE', `/api/enrollment-tokens/${encodeURIComponent(id)}`);
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <Page title="Enrollment tokens">
      {error && <Alert testid="admin-error">{error}</Alert>}
      <section class="card" aria-labelledby="new-token-h">
        <h2 id="new-token-h">New token</h2>
        <form class="stack" onSubmit={create}>
          <div class="two">
            <Field id="token-uses" label="Uses">
              <input id="token-uses" type="number" min={1} max={100000} required value={uses} onInput={(e) => setUses(e.currentTarget.value)} />
            </Field>
            <Field id="token-expires" label="Expires in" hint="For example 30m, 12h, 7d.">
              <input id="token-expires" required value={expiresIn} onInput={(e) => setExpiresIn(e.currentTarget.value)} aria-describedby="token-expires-hint" />
            </Field>
          </div>
          <label class="choice">
            <input id="token-machine-codes" type="checkbox" checked={allowMachineCodes} onChange={(e) => setAllowMachineCodes(e.currentTarget.checked)} />{' '}
            Devices enrolled with it may announce their machine code (only a code no device has yet)
          </label>
          <button type="submit" class="primary">
            Create token
          </button>
        </form>
        {created && (
          <Alert kind="ok" testid="new-token">
            Token {created.id} created. Copy it now; it is not shown again:
            <code class="secret">{created.token}</code>
          </Alert>
        )}
      </section>
      <ul class="cards" aria-label="Enrollment tokens" data-testid="tokens">
        {(rows ?? []).map((t) => (
          <li key={t.id} class="card" data-token={t.id}>
            <p class="row">
              <strong class="mono">{t.id}</strong>
              <span data-testid="token-state" class={stateOf(t) === 'active' ? 'state state-done' : 'state'}>
                {stateOf(t)}
              </span>
            </p>
            <p class="sub">
              {t.usesLeft} / {t.usesTotal} uses left · expires {dateTime(t.expiresAt)}
              {t.allowMachineCodes && ' · may announce machine codes'}
            </p>
            {stateOf(t) === 'active' && (
              <button type="button" class="danger small" onClick={() => void revoke(t.id)} aria-label={`Revoke token ${t.id}`}>
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
    </Page>
  );
}
