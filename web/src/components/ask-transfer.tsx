// "Ask for a transfer" on a machine another agent holds (docs/architecture.md, Transfer
// requests): the agent asks, admins are told, and this view changes the moment an admin decides
// ({event: "transfer.decided"} on the agent's res topic), without a reload.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { TransferRequestView } from '../../../protocol/rest';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { authed } from '../lib/session';
import { clock, errorText } from '../lib/words';
import { Alert, Field } from './ui';

/** `onApproved`: the machine is now this agent's; the claim screen looks it up again and says so. */
export function AskTransfer(props: { device: string; machine: string; onApproved(): void }): JSX.Element {
  const agent = useAgent();
  const decided = useObservable(agent.transferDecided);
  const [request, setRequest] = useState<TransferRequestView | null>(null);
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A request asked earlier (another tab, before a reload) is still the one to show.
  useEffect(() => {
    let gone = false;
    authed<TransferRequestView[]>('GET', '/api/transfer-requests?state=open').then(
      (rs) => {
        const open = rs.find((r) => r.device === props.device);
        if (!gone && open) setRequest(open);
      },
      (err: unknown) => !gone && setError(errorText(err)),
    );
    return () => {
      gone = true;
    };
  }, [props.device]);

  useEffect(() => {
    if (decided === null || decided.device !== props.device) return;
    setRequest(decided);
    if (decided.state === 'approved') props.onApproved();
  }, [decided]);

  const ask = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = note.trim() === '' ? { device: props.device } : { device: props.device, note: note.trim() };
      setRequest(await authed<TransferRequestView>('POST', '/api/transfer-requests', body));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  if (request?.state === 'open') {
    return (
      <Alert kind="info" testid="transfer-request">
        You asked for {props.machine} at {clock(request.createdAt)}. An admin will decide; this page changes when they do.
      </Alert>
    );
  }
  return (
    <form class="card stack" onSubmit={ask} aria-label="Ask for a transfer">
      {request?.state === 'declined' && (
        <Alert testid="transfer-request">An admin declined your request{request.reason ? `: ${request.reason}` : '.'} You may ask again.</Alert>
      )}
      {error && <Alert testid="transfer-error">{error}</Alert>}
      <Field id="transfer-note" label="Note for the admin (optional)">
        <input id="transfer-note" maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} placeholder="why you need this machine" />
      </Field>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Asking…' : 'Ask for a transfer'}
      </button>
    </form>
  );
}
