// The claim screen: which machine a label or code names, its model and presence, then Claim.
// Refusals are in plain words ("in use by another agent since 10:42", "label is not valid").
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { parseClaimTarget } from '../../../protocol/claim-target';
import type { ClaimPreview } from '../../../protocol/rest';
import { AskTransfer } from '../components/ask-transfer';
import { A, Alert, Page, PresenceBadge } from '../components/ui';
import { ApiError } from '../lib/api';
import { useAgent } from '../lib/live';
import { navigate } from '../lib/router';
import { authed } from '../lib/session';
import { errorText } from '../lib/words';

function inUse(since: number | null): ApiError {
  return new ApiError(409, { code: 'BOUND_TO_OTHER', message: 'in use by another agent', ...(since === null ? {} : { since }) });
}

export function Claim(props: { target: string }): JSX.Element {
  const agent = useAgent();
  const [preview, setPreview] = useState<ClaimPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Looks the machine up again: after a refused claim, or when a transfer to this agent was approved.
  const [lookups, setLookups] = useState(0);
  const [transferred, setTransferred] = useState(false);
  let shownCode = props.target;
  let typed = false;
  try {
    const t = parseClaimTarget(props.target);
    shownCode = t.kind === 'label' ? t.code : (t.code ?? t.device ?? props.target);
    typed = t.kind !== 'label';
  } catch {
    shownCode = props.target.replace(/^\/c\//, '').split('.')[0] ?? props.target;
  }

  // A typed code that names no machine is not a bad label: say what is wrong and what to do.
  const claimError = (err: unknown): string =>
    typed && err instanceof ApiError && err.wire.code === 'UNKNOWN_MACHINE' && err.wire.field !== 'code'
      ? `There is no machine with the code ${shownCode}. Check the code printed on the machine, or scan its label.`
      : errorText(err);

  useEffect(() => {
    setPreview(null);
    setError(null);
    let gone = false;
    (async () => {
      parseClaimTarget(props.target);
      const p = await authed<ClaimPreview>('GET', `/api/claim-preview?target=${encodeURIComponent(props.target)}`);
      if (gone) return;
      setPreview(p);
      if (p.holder === 'other') setError(errorText(inUse(p.since)));
    })().catch((err: unknown) => {
      if (!gone) setError(claimError(err));
    });
    return () => {
      gone = true;
    };
  }, [props.target, lookups]);

  const claim = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await agent.claim(props.target);
      navigate(`/devices/${encodeURIComponent(r.device.id)}`);
    } catch (err) {
      setError(claimError(err));
      // Taken by another agent meanwhile: look again, so the screen offers to ask for it.
      if (err instanceof ApiError && err.wire.code === 'BOUND_TO_OTHER') setLookups((n) => n + 1);
    } finally {
      setBusy(false);
    }
  };

  const code = preview?.machineCode ?? shownCode;
  return (
    <Page title="Claim this machine" back={{ href: '/scan', label: 'Scan another' }}>
      <section class="card machine" aria-label="Machine">
        <p class="machine-code" data-testid="machine-code">
          {code}
        </p>
        {preview && (
          <dl class="facts">
            <dt>Model</dt>
            <dd data-testid="machine-model">{preview.model ?? 'not reported yet'}</dd>
            <dt>Status</dt>
            <dd>
              <PresenceBadge status={preview.presence} detail />
            </dd>
            <dt>Device</dt>
            <dd class="mono">{preview.device}</dd>
          </dl>
        )}
        {!preview && !error && <p class="hint">Looking up the machine…</p>}
      </section>
      {error && <Alert testid="claim-error">{error}</Alert>}
      {preview?.holder === 'other' && (
        <AskTransfer device={preview.device} machine={code} onApproved={() => (setTransferred(true), setLookups((n) => n + 1))} />
      )}
      {preview?.holder === 'you' && (
        <Alert kind="ok" testid="claim-mine">
          {transferred ? 'An admin approved your transfer request: this machine is yours now.' : 'This machine is already yours.'}{' '}
          <A href={`/devices/${encodeURIComponent(preview.device)}`}>Open it</A>.
        </Alert>
      )}
      {preview?.holder === null && (
        <button type="button" class="primary big" onClick={claim} disabled={busy}>
          {busy ? 'Claiming…' : 'Claim'}
        </button>
      )}
    </Page>
  );
}
