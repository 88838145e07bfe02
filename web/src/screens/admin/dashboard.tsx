// The fleet at a glance: devices by presence (live), bound and free, jobs waiting and running,
// jobs in the last hour, and the latest audit entries. Each count links to where to act on it.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { AuditView, DeviceWithPresence, JobListItem } from '../../../../protocol/rest';
import { AuditEntries } from '../../components/audit-entries';
import { A, Alert, Page } from '../../components/ui';
import { useAdmin } from '../../lib/live';
import { useObservable } from '../../lib/observable';
import { authed } from '../../lib/session';
import { errorText, presenceLabel } from '../../lib/words';

const HOUR = 3600_000;

interface Data {
  devices: DeviceWithPresence[];
  queued: JobListItem[];
  running: JobListItem[];
  recent: JobListItem[];
  audit: AuditView[];
}

function Count(props: { label: string; value: number | string; href: string; tone?: 'ok' | 'warn' | 'muted'; testid: string }): JSX.Element {
  return (
    <li class={`tile${props.tone ? ` tile-${props.tone}` : ''}`} data-testid={props.testid}>
      <A href={props.href}>
        <span class="tile-value">{props.value}</span>
        <span class="tile-label">{props.label}</span>
      </A>
    </li>
  );
}

export function AdminDashboard(): JSX.Element {
  const admin = useAdmin();
  const live = useObservable(admin.state);
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const queueKey = JSON.stringify(live.queueDepth);

  useEffect(() => {
    Promise.all([
      authed<DeviceWithPresence[]>('GET', '/api/devices'),
      authed<JobListItem[]>('GET', '/api/jobs?state=queued&limit=1000'),
      authed<JobListItem[]>('GET', '/api/jobs?state=running&limit=1000'),
      authed<JobListItem[]>('GET', '/api/jobs?limit=1000'),
      authed<AuditView[]>('GET', '/api/audit?limit=8'),
    ]).then(
      ([devices, queued, running, recent, audit]) => (setData({ devices, queued, running, recent, audit }), setError(null)),
      (err: unknown) => setError(errorText(err)),
    );
  }, [live.bindingsTick, queueKey]);

  if (!data) return <Page title="Dashboard">{error ? <Alert>{error}</Alert> : <p class="hint">Loading…</p>}</Page>;
  const presence = { online: 0, reconnecting: 0, offline: 0 };
  for (const d of data.devices) {
    const label = presenceLabel(live.status[d.id] ?? d.presence);
    if (label === 'online' || label === 'reconnecting') presence[label]++;
    else presence.offline++;
  }
  const bound = data.devices.filter((d) => d.agent !== null).length;
  const since = Date.now() - HOUR;
  const lastHour = data.recent.filter((j) => (j.times.queued ?? 0) >= since).length;
  return (
    <Page title="Dashboard">
      {error && <Alert>{error}</Alert>}
      <section aria-labelledby="dash-devices-h">
        <h2 id="dash-devices-h">Devices ({data.devices.length})</h2>
        <ul class="tiles">
          <Count label="online" value={presence.online} href="/admin" tone="ok" testid="count-online" />
          <Count
            label="reconnecting"
            value={presence.reconnecting}
            href="/admin"
            tone={presence.reconnecting > 0 ? 'warn' : 'muted'}
            testid="count-reconnecting"
          />
          <Count label="offline" value={presence.offline} href="/admin" tone="muted" testid="count-offline" />
          <Count label="bound" value={bound} href="/admin" testid="count-bound" />
          <Count label="free" value={data.devices.length - bound} href="/admin" testid="count-free" />
        </ul>
      </section>
      <section aria-labelledby="dash-jobs-h">
        <h2 id="dash-jobs-h">Jobs</h2>
        <ul class="tiles">
          <Count label="queued" value={data.queued.length} href="/admin/jobs" testid="count-queued" />
          <Count label="running" value={data.running.length} href="/admin/jobs" testid="count-running" />
          <Count
            label="in the last hour"
            value={data.recent.length === 1000 && lastHour === 1000 ? '1000+' : lastHour}
            href="/admin/jobs"
            testid="count-hour"
          />
        </ul>
      </section>
      <p class="actions">
        <A class="button secondary" href="/admin/devices/new">
          Add device
        </A>
      </p>
      <section class="card" aria-labelledby="dash-audit-h">
        <div class="row">
          <h2 id="dash-audit-h">Latest audit entries</h2>
          <A href="/admin/audit">All entries</A>
        </div>
        <AuditEntries rows={data.audit} testid="dash-audit" showDevice />
      </section>
    </Page>
  );
}
