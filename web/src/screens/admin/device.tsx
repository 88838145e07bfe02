// One device for an admin: details, live presence, transfer with a reason, forced release,
// re-provisioning allowed, and its audit trail.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Alert, Field, Page, PresenceBadge } from '../../components/ui';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { dateTime, errorText, since } from '../../lib/words';
import type { AgentListItem, AuditView, DeviceWithPresence } from '../../../../protocol/rest';


function detailText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

export function AdminDevice(props: { id: string }): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [dev, setDev] = useState<DeviceWithPresence | null>(null);
  const [audit, setAudit] = useState<AuditView[]>([]);
  const [agents, setAgents] = useState<AgentListItem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [to, setTo] = useState('');
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [releaseReason, setReleaseReason] = useState('');
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const id = encodeURIComponent(props.id);
    Promise.all([
      authed<DeviceWithPresence>('GET', `/api/devices/${id}`),
      authed<AuditView[]>('GET', `/api/audit?device=${id}&limit=100`),
      authed<AgentListItem[]>('GET', '/api/agents'),
    ]).then(
      ([d, a, ag]) => (setDev(d), setAudit(a), setAgents(ag)),
      (err: unknown) => setError(errorText(err)),
    );
  }, [props.id, live.bindingsTick, reload]);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setError(null);
    setDone(null);
    try {
      await fn();
      setDone(what);
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const id = encodeURIComponent(props.id);
  const transfer = (e: Event) => {
    e.preventDefault();
    void act(`Transferred to ${to.trim().toLowerCase()}.`, async () => {
      await authed('POST', `/api/devices/${id}/transfer`, { agent: to, reason, force });
      setTo('');
      setReason('');
      setForce(false);
    });
  };
  const release = (e: Event) => {
    e.preventDefault();
    void act('Released.', async () => {
      await authed('POST', `/api/devices/${id}/release`, { reason: releaseReason, force: true });
      setReleaseReason('');
    });
  };

  if (!dev) {
    return <Page title={props.id} back={{ href: '/admin', label: 'Fleet' }}>{error ? <Alert>{error}</Alert> : <p class="hint">Loading…</p>}</Page>;
  }
  const presence = live.status[dev.id] ?? dev.presence;
  return (
    <Page title={dev.machineCode ?? dev.id} back={{ href: '/admin', label: 'Fleet' }}>
      {done && (
        <Alert kind="ok" testid="admin-done">
          {done}
        </Alert>
      )}
      {error && <Alert testid="admin-error">{error}</Alert>}
      <section class="card">
        <dl class="facts">
          <dt>Device</dt>
          <dd class="mono">{dev.id}</dd>
          <dt>Presence</dt>
          <dd>
            <PresenceBadge status={presence} detail />
          </dd>
          <dt>Agent</dt>
          <dd data-testid="admin-device-agent">{dev.agent ? `${dev.agent} since ${since(dev.boundAt ?? 0)}` : 'free'}</dd>
          <dt>Model / FW</dt>
          <dd>
            {dev.model ?? '—'} / {dev.fw ?? '—'}
          </dd>
          <dt>MAC</dt>
          <dd class="mono">{dev.mac}</dd>
          <dt>Queue</dt>
          <dd>{live.queueDepth[dev.id] ?? 0} jobs</dd>
          {dev.reservedByJob && (
            <>
              <dt>Reserved by</dt>
              <dd class="mono">job {dev.reservedByJob}</dd>
            </>
          )}
        </dl>
      </section>
      <section class="card" aria-labelledby="transfer-h">
        <h2 id="transfer-h">Transfer</h2>
        <form class="stack" onSubmit={transfer}>
          <Field id="transfer-agent" label="To agent">
            <input id="transfer-agent" list="agent-ids" required value={to} onInput={(e) => setTo(e.currentTarget.value)} autocapitalize="none" />
            <datalist id="agent-ids">
              {agents.filter((a) => !a.disabled && a.id !== dev.agent).map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </datalist>
          </Field>
          <Field id="transfer-reason" label="Reason (kept in the audit trail)">
            <input id="transfer-reason" required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </Field>
          <div class="check">
            <input id="transfer-force" type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
            <label for="transfer-force">Force (even if a job reserves it or the agent is at their limit)</label>
          </div>
          <button type="submit" class="primary">
            Transfer
          </button>
        </form>
      </section>
      {dev.agent && (
        <section class="card" aria-labelledby="release-h">
          <h2 id="release-h">Force release</h2>
          <form class="stack" onSubmit={release}>
            <Field id="release-reason" label="Reason">
              <input id="release-reason" required value={releaseReason} onInput={(e) => setReleaseReason(e.currentTarget.value)} />
            </Field>
            <button type="submit" class="danger">
              Force release
            </button>
          </form>
        </section>
      )}
      <section class="card" aria-labelledby="reprov-h">
        <h2 id="reprov-h">Re-provisioning</h2>
        <p>{dev.reprovisionAllowed ? 'This device may be provisioned again (for example after a board swap).' : 'Provisioning this MAC again is refused.'}</p>
        <button
          type="button"
          class="secondary"
          onClick={() => void act(dev.reprovisionAllowed ? 'Re-provisioning is no longer allowed.' : 'Re-provisioning allowed.', () => authed('POST', `/api/devices/${id}/reprovision`, { allowed: !dev.reprovisionAllowed }))}
        >
          {dev.reprovisionAllowed ? 'Disallow re-provisioning' : 'Allow re-provisioning'}
        </button>
      </section>
      <section class="card" aria-labelledby="audit-h">
        <h2 id="audit-h">Audit trail</h2>
        <ol class="audit" data-testid="audit">
          {audit.map((a) => (
            <li key={a.seq}>
              <time dateTime={new Date(a.at).toISOString()}>{dateTime(a.at)}</time> <strong>{a.action}</strong> by {a.actor}
              {a.agent && <> · agent {a.agent}</>}
              {Object.keys(a.detail).length > 0 && <span class="sub"> · {detailText(a.detail)}</span>}
            </li>
          ))}
        </ol>
      </section>
    </Page>
  );
}
