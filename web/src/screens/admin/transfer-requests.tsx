// Open transfer requests for admins (docs/architecture.md, Transfer requests): who asks for which
// machine and who holds it, with Approve and Decline. The list reloads whenever a request is made
// or decided anywhere (fb/v1/admin/transfer-requests), so it stays current without a refresh.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { TransferRequestView } from '../../../../protocol/rest';
import { Alert } from '../../components/ui';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { errorText, since } from '../../lib/words';

export function TransferRequests(): JSX.Element | null {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [rows, setRows] = useState<TransferRequestView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  useEffect(() => {
    authed<TransferRequestView[]>('GET', '/api/transfer-requests?state=open').then(
      (r) => (setRows(r), setError(null)),
      (err: unknown) => setError(errorText(err)),
    );
  }, [live.transfersTick, live.bindingsTick]);

  const decide = async (r: TransferRequestView, action: 'approve' | 'decline') => {
    setBusy(r.id);
    setError(null);
    try {
      const d = await authed<TransferRequestView>('POST', `/api/transfer-requests/${encodeURIComponent(r.id)}/${action}`, {});
      const machine = d.machineCode ?? d.device;
      setNotice(
        d.state === 'approved' ? `Approved: ${machine} was transferred to ${d.agent ?? 'the requester'}.` : `Declined: ${machine} stays with its holder.`,
      );
      setRows((rs) => (rs ?? []).filter((x) => x.id !== r.id));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  if (rows !== null && rows.length === 0 && !error && !notice) return null;
  return (
    <section class="card" aria-labelledby="transfer-requests-h" data-testid="transfer-requests">
      <h2 id="transfer-requests-h">Transfer requests</h2>
      {error && <Alert>{error}</Alert>}
      {notice && (
        <Alert kind="ok" testid="transfer-notice">
          {notice}
        </Alert>
      )}
      {rows !== null && rows.length === 0 && <p class="hint">No open requests.</p>}
      <ul class="cards">
        {(rows ?? []).map((r) => (
          <li key={r.id} class="card" data-request={r.id}>
            <p class="row">
              <strong>{r.machineCode ?? r.device}</strong>
              <span class="sub">asked at {since(r.createdAt)}</span>
            </p>
            <p class="sub">
              <span data-testid="transfer-agent">{r.agent}</span> asks for it; held by {r.holder ?? 'nobody now'}.
            </p>
            {r.note && <p class="note">“{r.note}”</p>}
            <p class="row">
              <button
                type="button"
                class="primary small"
                disabled={busy === r.id}
                onClick={() => void decide(r, 'approve')}
                aria-label={`Approve ${r.agent}'s request for ${r.machineCode ?? r.device}`}
              >
                Approve
              </button>
              <button
                type="button"
                class="danger small"
                disabled={busy === r.id}
                onClick={() => void decide(r, 'decline')}
                aria-label={`Decline ${r.agent}'s request for ${r.machineCode ?? r.device}`}
              >
                Decline
              </button>
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
