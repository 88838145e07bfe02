// One device for an admin: details, live presence, transfer to an agent picked by search, forced
// release, its jobs with cancel, kick and delete, its claim label, re-provisioning allowed, and
// its audit trail.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { AdminJobs } from '../../components/admin-jobs';
import { AgentPicker } from '../../components/agent-picker';
import { AuditEntries } from '../../components/audit-entries';
import { HistoryChart } from '../../components/history-chart';
import { LabelDownloads } from '../../components/label-downloads';
import { Alert, Field, Page, PresenceBadge } from '../../components/ui';
import { navigate } from '../../lib/router';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { useAction } from '../../lib/use-action';
import { errorText, since } from '../../lib/words';
import type { AgentListItem, AuditView, DeviceWithPresence } from '../../../../protocol/rest';

export function AdminDevice(props: { id: string }): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [dev, setDev] = useState<DeviceWithPresence | null>(null);
  const [audit, setAudit] = useState<AuditView[]>([]);
  const [agents, setAgents] = useState<AgentListItem[]>([]);
  const { error, setError, done, reload, run: act } = useAction();
  const [to, setTo] = useState('');
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [releaseReason, setReleaseReason] = useState('');
  const [deleting, setDeleting] = useState(false);
  const [deleteReason, setDeleteReason] = useState('');
  // A delete waits for the read in flight and stops new ones: a read answered after the delete
  // would ask for a device that no longer exists.
  const loading = useRef<Promise<unknown>>(Promise.resolve());
  const removing = useRef(false);

  useEffect(() => {
    if (removing.current) return;
    const id = encodeURIComponent(props.id);
    loading.current = Promise.all([
      authed<DeviceWithPresence>('GET', `/api/devices/${id}`),
      authed<AuditView[]>('GET', `/api/audit?device=${id}&limit=100`),
      authed<AgentListItem[]>('GET', '/api/agents'),
    ]).then(
      ([d, a, ag]) => (setDev(d), setAudit(a), setAgents(ag)),
      (err: unknown) => setError(errorText(err)),
    );
  }, [props.id, live.bindingsTick, reload]);

  const id = encodeURIComponent(props.id);
  const transfer = (e: Event) => {
    e.preventDefault();
    if (to === '') {
      setError('Choose the agent to transfer to from the list.');
      return;
    }
    void act(`Transferred to ${to}.`, async () => {
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

  const kick = () => void act('Its connection was closed; it reconnects by itself.', () => authed('POST', `/api/devices/${id}/kick`));
  const remove = async (e: Event) => {
    e.preventDefault();
    setError(null);
    removing.current = true;
    await loading.current;
    try {
      await authed('DELETE', `/api/devices/${id}`, deleteReason.trim() ? { reason: deleteReason.trim() } : undefined);
      navigate('/admin');
    } catch (err) {
      removing.current = false;
      setError(errorText(err));
    }
  };

  if (!dev) {
    return (
      <Page title={props.id} back={{ href: '/admin', label: 'Fleet' }}>
        {error ? <Alert>{error}</Alert> : <p class="hint">Loading…</p>}
      </Page>
    );
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
          <AgentPicker id="transfer-agent" label="To agent" agents={agents.filter((a) => !a.disabled && a.id !== dev.agent)} value={to} onChange={setTo} />
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
      <section class="card" aria-labelledby="jobs-h">
        <h2 id="jobs-h">Jobs</h2>
        <AdminJobs device={dev.id} limit={20} />
      </section>
      <section class="card" aria-labelledby="levels-h">
        <h2 id="levels-h">Levels, last 7 days</h2>
        <HistoryChart machine={dev.id} version={undefined} />
      </section>
      {dev.machineCode && (
        <section class="card" aria-labelledby="label-h">
          <h2 id="label-h">Claim label</h2>
          <LabelDownloads device={dev.id} code={dev.machineCode} preview />
        </section>
      )}
      <section class="card" aria-labelledby="connection-h">
        <h2 id="connection-h">Connection</h2>
        <p class="hint">Kicking closes its connection now; the device reconnects by itself (its presence reason reads kicked).</p>
        <button type="button" class="secondary" onClick={kick}>
          Kick
        </button>
      </section>
      <section class="card" aria-labelledby="delete-h">
        <h2 id="delete-h">Delete</h2>
        {dev.agent ? (
          <p class="hint">Release it from {dev.agent} first; a bound device is not deleted.</p>
        ) : !deleting ? (
          <button type="button" class="danger" onClick={() => setDeleting(true)}>
            Delete device…
          </button>
        ) : (
          <form class="stack" onSubmit={(e) => void remove(e)}>
            <p>It is disconnected and removed; its secret stops working. Its audit trail stays.</p>
            <Field id="delete-reason" label="Reason (kept in the audit trail)">
              <input id="delete-reason" value={deleteReason} onInput={(e) => setDeleteReason(e.currentTarget.value)} />
            </Field>
            <div class="actions">
              <button type="submit" class="danger">
                Delete {dev.machineCode ?? dev.id}
              </button>
              <button type="button" class="secondary" onClick={() => setDeleting(false)}>
                Keep it
              </button>
            </div>
          </form>
        )}
      </section>
      <section class="card" aria-labelledby="reprov-h">
        <h2 id="reprov-h">Re-provisioning</h2>
        <p>{dev.reprovisionAllowed ? 'This device may be provisioned again (for example after a board swap).' : 'Provisioning this MAC again is refused.'}</p>
        <button
          type="button"
          class="secondary"
          onClick={() =>
            void act(dev.reprovisionAllowed ? 'Re-provisioning is no longer allowed.' : 'Re-provisioning allowed.', () =>
              authed('POST', `/api/devices/${id}/reprovision`, { allowed: !dev.reprovisionAllowed }),
            )
          }
        >
          {dev.reprovisionAllowed ? 'Disallow re-provisioning' : 'Allow re-provisioning'}
        </button>
      </section>
      <section class="card" aria-labelledby="audit-h">
        <h2 id="audit-h">Audit trail</h2>
        <AuditEntries rows={audit} />
      </section>
    </Page>
  );
}
