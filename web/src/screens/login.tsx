// Sign in with an agent id (or admin:<name>) and password.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Alert, Field, Page } from '../components/ui';
import { useObservable } from '../lib/observable';
import { parseClaimTarget } from '../../../protocol/claim-target';
import { peekReturnPath, signIn, signInNotice } from '../lib/session';
import { errorText } from '../lib/words';

/** The machine code of a claim label the person opened before signing in, if that is where they go next. */
function claimingCode(): string | null {
  const back = peekReturnPath();
  if (back === null || !back.startsWith('/c/')) return null;
  try {
    const t = parseClaimTarget(back);
    return t.kind === 'label' ? t.code : null;
  } catch {
    return null;
  }
}

export function Login(): JSX.Element {
  const notice = useObservable(signInNotice);
  const claiming = claimingCode();
  const [id, setId] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // The frame sends the person on once the session is set.
      await signIn(id.trim(), password);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title={claiming === null ? 'Sign in' : `Sign in to claim ${claiming}`}>
      {notice && (
        <Alert kind="info" testid="signin-notice">
          {notice}
        </Alert>
      )}
      <form class="card stack" onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <Field id="login-id" label="Agent ID" hint="Your number or name, for example 263. Supervisors: admin:name.">
          <input
            id="login-id"
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            value={id}
            onInput={(e) => setId(e.currentTarget.value)}
            aria-describedby="login-id-hint"
          />
        </Field>
        <Field id="login-password" label="Password">
          <input
            id="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        {error && (
          <div id="login-error">
            <Alert>{error}</Alert>
          </div>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </Page>
  );
}
