// Firmware rollouts (docs/architecture.md, Over-the-air updates): each rollout with a progress bar
// overall and per wave, its state and reason, and pause, resume and cancel. Refreshed every 2 s.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Alert, Page } from '../../components/ui';
import { authed } from '../../lib/session';
import { dateTime, errorText } from '../../lib/words';
import type { RolloutView } from '../../../../protocol/rest';

const POLL_MS = 2_000;
type Counts = Record<string, number>;

function Bar(props: { counts: Counts; total: number; label: string }): JSX.Element {
  const c = props.counts;
  const pct = (n: number): string => `${props.total === 0 ? 0 : (n * 100) / props.total}%`;
  const done = c.confirmed ?? 0;
  const bad = (c.failed ?? 0) + (c['rolled-back'] ?? 0);
  const busy = (c.sent ?? 0) + (c.downloading ?? 0) + (c.installed ?? 0);
  return (
    <div
      class="rollout-bar"
      role="img"
      aria-label={`${props.label}: ${done} of ${props.total} confirmed, ${bad} failed, ${busy} updating`}
      data-testid="rollout-bar"
    >
      <span class="ok" style={{ width: pct(done) }} />
      <span class="bad" style={{ width: pct(bad) }} />
      <span class="busy" style={{ width: pct(busy) }} />
    </div>
  );
}

export function AdminRollouts(): JSX.Element {
  const [rows, setRows] = useState<RolloutView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    authed<RolloutView[]>('GET', '/api/rollouts').then(setRows, (err: unknown) => setError(errorText(err)));
    const t = setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => clearTimeout(t);
  }, [tick]);

  const act = async (id: string, action: 'pause' | 'resume' | 'cancel') => {
    setError(null);
    try {
      await authed('POST', `/api/rollouts/${encodeURIComponent(id)}/${action}`, {});
      setTick((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <Page title="Firmware rollouts">
      {error && <Alert testid="admin-error">{error}</Alert>}
      {rows === null ? <p>Loading…</p> : rows.length === 0 ? <p>No rollouts yet.</p> : null}
      {rows?.map((r) => {
        const c = r.counts as Counts;
        return (
          <section class="card" key={r.id} data-testid={`rollout-${r.id}`}>
            <h2>
              {r.release} <small>({r.id})</small>
            </h2>
            <p>
              <strong data-testid="rollout-state">{r.state === 'running' ? `wave ${r.wave + 1} of ${r.waves.length}` : r.state}</strong>
              {r.reason ? ` — ${r.reason}` : ''} · {c.confirmed ?? 0} of {r.total} confirmed · started {dateTime(r.createdAt)} by {r.createdBy}
            </p>
            <Bar counts={c} total={r.total} label="all devices" />
            <ul class="plain">
              {r.waves.map((w, i) => (
                <li key={i}>
                  Wave {i + 1} ({w.percent} %): {(w.counts as Counts).confirmed ?? 0}/{w.devices}
                  <Bar counts={w.counts as Counts} total={w.devices} label={`wave ${i + 1}`} />
                </li>
              ))}
            </ul>
            <div class="row">
              {r.state === 'running' && (
                <button type="button" onClick={() => act(r.id, 'pause')}>
                  Pause
                </button>
              )}
              {r.state === 'paused' && (
                <button type="button" onClick={() => act(r.id, 'resume')}>
                  Resume
                </button>
              )}
              {(r.state === 'running' || r.state === 'paused') && (
                <button type="button" onClick={() => act(r.id, 'cancel')}>
                  Cancel
                </button>
              )}
            </div>
          </section>
        );
      })}
    </Page>
  );
}
