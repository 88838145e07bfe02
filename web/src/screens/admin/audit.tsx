// The whole audit log: filter by device, agent and action, page back through older entries, and
// see new entries arrive while on the first page (a poll for rows after the newest one shown).
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AuditView } from '../../../../protocol/rest';
import { AuditEntries } from '../../components/audit-entries';
import { Alert, Field, Page } from '../../components/ui';
import { authed } from '../../lib/session';
import { errorText } from '../../lib/words';

const PAGE = 50;
const POLL_MS = 3000;

export function AdminAudit(): JSX.Element {
  const [device, setDevice] = useState('');
  const [agent, setAgent] = useState('');
  const [action, setAction] = useState('');
  // The `before` cursor of each page opened so far; the last is the one shown (null: the newest).
  const [pages, setPages] = useState<Array<number | null>>([null]);
  const [rows, setRows] = useState<AuditView[] | null>(null);
  const [fresh, setFresh] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const rowsRef = useRef<AuditView[] | null>(null);
  rowsRef.current = rows;

  const filters = (): URLSearchParams => {
    const q = new URLSearchParams();
    if (device.trim()) q.set('device', device.trim().toLowerCase());
    if (agent.trim()) q.set('agent', agent.trim().toLowerCase());
    if (action.trim()) q.set('action', action.trim().toLowerCase());
    return q;
  };
  const before = pages[pages.length - 1] ?? null;

  useEffect(() => {
    const q = filters();
    q.set('limit', String(PAGE));
    if (before !== null) q.set('before', String(before));
    setRows(null);
    setFresh(0);
    // A quick change of filters can have two lists in flight; only the latest one is shown.
    let latest = true;
    authed<AuditView[]>('GET', `/api/audit?${q}`).then(
      (r) => latest && (setRows(r), setError(null)),
      (err: unknown) => latest && setError(errorText(err)),
    );
    return () => {
      latest = false;
    };
  }, [device, agent, action, before]);

  // Live on the first page only: older pages stay as they were when opened.
  useEffect(() => {
    if (before !== null) return;
    let current = true;
    const timer = setInterval(() => {
      const shown = rowsRef.current;
      if (shown === null || document.hidden) return;
      const q = filters();
      q.set('after', String(shown[0]?.seq ?? 0));
      authed<AuditView[]>('GET', `/api/audit?${q}`).then(
        (r) => {
          if (!current || r.length === 0) return;
          // The list may have been reloaded while this poll was out: add only rows newer than it.
          setRows((cur) => {
            const newest = cur?.[0]?.seq ?? 0;
            const added = r.filter((x) => x.seq > newest).reverse();
            if (added.length > 0) setFresh((n) => n + added.length);
            return [...added, ...(cur ?? [])].slice(0, PAGE);
          });
        },
        () => undefined,
      );
    }, POLL_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [device, agent, action, before]);

  const apply = (set: (v: string) => void) => (e: Event) => {
    set((e.currentTarget as HTMLInputElement).value);
    setPages([null]);
  };
  const oldest = rows?.[rows.length - 1]?.seq;
  return (
    <Page title="Audit log">
      {/* Uncontrolled: a list arriving while someone types would otherwise reset the box to the applied filter. */}
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field id="audit-device" label="Device id">
          <input id="audit-device" type="search" autocapitalize="none" defaultValue={device} onChange={apply(setDevice)} />
        </Field>
        <Field id="audit-agent" label="Agent id">
          <input id="audit-agent" type="search" autocapitalize="none" defaultValue={agent} onChange={apply(setAgent)} />
        </Field>
        <Field id="audit-action" label="Action" hint="For example transfer, claim, job.cancel, device.deleted.">
          <input
            id="audit-action"
            type="search"
            autocapitalize="none"
            list="audit-actions"
            defaultValue={action}
            onChange={apply(setAction)}
            aria-describedby="audit-action-hint"
          />
          <datalist id="audit-actions">
            {[...new Set((rows ?? []).map((r) => r.action))].sort().map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </Field>
      </form>
      {error && <Alert>{error}</Alert>}
      {rows === null && !error && <p class="hint">Loading the audit log…</p>}
      {rows !== null && (
        <p class="hint" role="status" data-testid="audit-status">
          {rows.length === 0
            ? 'No entries.'
            : `${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}${pages.length > 1 ? `, page ${pages.length}` : ', newest first'}`}
          {fresh > 0 && ` · ${fresh} new since opened`}
        </p>
      )}
      {rows !== null && rows.length > 0 && (
        <section class="card">
          <AuditEntries rows={rows} testid="audit-log" showDevice />
        </section>
      )}
      <div class="actions">
        {pages.length > 1 && (
          <button type="button" class="secondary" onClick={() => setPages((p) => p.slice(0, -1))}>
            Newer
          </button>
        )}
        {rows !== null && rows.length === PAGE && oldest !== undefined && (
          <button type="button" class="secondary" onClick={() => setPages((p) => [...p, oldest])}>
            Older
          </button>
        )}
      </div>
    </Page>
  );
}
