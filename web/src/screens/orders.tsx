// The operator's view of walk-up orders on the machines it holds (docs/architecture.md, "Walk-up
// orders"): each order with its thumbnail, state and place in the queue; cancel any, move a
// waiting one up or down, and put the machine in maintenance. It reloads whenever a machine's
// queue snapshot changes, so it follows the customers' orders live.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { OrderView } from '../../../protocol/orders';
import { Alert, Field, Page } from '../components/ui';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { navigate, queryParam, usePath } from '../lib/router';
import { authed } from '../lib/session';
import { dateTime, duration, errorText } from '../lib/words';

type OperatorOrder = OrderView & { device: string; session: string };
interface Settings {
  device: string;
  enabled: boolean;
  maintenance: boolean;
}

function placeText(o: OrderView): string {
  if (o.state === 'queued') return o.position === 1 ? 'Waiting: next to print' : `Waiting: number ${o.position} in the queue`;
  if (o.state === 'dispatched') return 'Sent to the machine';
  if (o.state === 'running') return `Printing${o.progress === null ? '' : `: ${o.progress} %`}`;
  if (o.state === 'done') return 'Printed';
  return o.error ? `${o.state[0]!.toUpperCase()}${o.state.slice(1)}: ${o.error.message}` : o.state[0]!.toUpperCase() + o.state.slice(1);
}

const open = (o: OrderView): boolean => o.state === 'queued' || o.state === 'dispatched' || o.state === 'running';

export function Orders(): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  const path = usePath();
  const device = queryParam(path, 'device') ?? st.devices[0]?.id ?? null;
  const [orders, setOrders] = useState<OperatorOrder[] | null>(null);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  // The queue snapshot of the machine shown: any change to it (a new order, a move, an ending) reloads.
  const queueKey = device === null ? '' : JSON.stringify(st.queues[device] ?? []);

  const load = (): void => {
    if (device === null) return;
    authed<OperatorOrder[]>('GET', `/api/machine-orders?device=${encodeURIComponent(device)}`).then(setOrders, (err: unknown) => setError(errorText(err)));
  };

  useEffect(() => {
    if (!st.loaded || device === null) return;
    setError(null);
    load();
    authed<Settings>('GET', `/api/devices/${encodeURIComponent(device)}/order-settings`).then(setSettings, (err: unknown) => setError(errorText(err)));
  }, [device, st.loaded]);

  useEffect(() => {
    if (st.loaded) load();
  }, [queueKey]);

  const act = (key: string, fn: () => Promise<unknown>): void => {
    setBusy(key);
    setError(null);
    fn()
      .then(load, (err: unknown) => setError(errorText(err)))
      .finally(() => setBusy(null));
  };
  const move = (o: OrderView, position: number): void =>
    act(`move-${o.order}`, () => authed('POST', `/api/machine-orders/${encodeURIComponent(o.order)}/move`, { position }));
  const cancel = (o: OrderView): void => act(`cancel-${o.order}`, () => authed('POST', `/api/machine-orders/${encodeURIComponent(o.order)}/cancel`));
  // The box shows what was asked for while the broker saves it: bound to the saved value alone, it
  // sprang back at the click and again when the answer came.
  const [asked, setAsked] = useState<boolean | null>(null);
  const maintenance = (on: boolean): void => {
    setAsked(on);
    act('maintenance', async () => {
      try {
        setSettings(await authed<Settings>('POST', `/api/devices/${encodeURIComponent(device!)}/order-settings`, { maintenance: on }));
      } finally {
        setAsked(null);
      }
    });
  };

  const waiting = (orders ?? []).filter((o) => o.state === 'queued');
  const lastPlace = Math.max(0, ...waiting.map((o) => o.position ?? 0));
  // Open orders in the machine's order first, then the ended ones, newest first.
  const shown = [...(orders ?? [])].sort((a, b) =>
    open(a) && open(b) ? (a.position ?? 0) - (b.position ?? 0) : open(a) ? -1 : open(b) ? 1 : b.createdAt - a.createdAt,
  );

  return (
    <Page title="Walk-up orders">
      {device === null && <p>You hold no machines now.</p>}
      {device !== null && (
        <Field id="orders-device" label="Machine">
          <select
            id="orders-device"
            value={device}
            onChange={(e) => navigate(`/orders?device=${encodeURIComponent(e.currentTarget.value)}`, { replace: true })}
          >
            {st.devices.map((d) => (
              <option key={d.id} value={d.id}>
                {d.machineCode ?? d.id}
              </option>
            ))}
          </select>
        </Field>
      )}
      {settings && (
        <section class="card" aria-label="Taking orders">
          {!settings.enabled && <p>This machine does not take walk-up orders. An admin can open it to them.</p>}
          {settings.enabled && (
            <label class="row">
              <span>
                <input
                  type="checkbox"
                  data-testid="maintenance"
                  checked={asked ?? settings.maintenance}
                  disabled={busy === 'maintenance'}
                  onChange={(e) => maintenance(e.currentTarget.checked)}
                />{' '}
                In maintenance
              </span>
              <span class="sub" data-testid="taking-orders">
                {settings.maintenance ? 'Customers are told the machine takes no orders right now.' : 'Taking orders.'}
              </span>
            </label>
          )}
        </section>
      )}
      {error && <Alert>{error}</Alert>}
      {orders && orders.length === 0 && <p>No walk-up orders on this machine yet.</p>}
      {shown.length > 0 && (
        <ul class="cards orders" data-testid="operator-orders">
          {shown.map((o) => (
            <li key={o.order} class="card order-row" data-testid="operator-order" data-order={o.order} data-state={o.state} data-position={o.position ?? ''}>
              <img class="thumb" src={o.thumb} alt="The customer's design" width={64} height={136} />
              <div class="order-body">
                <p>
                  <strong data-testid="order-place">{placeText(o)}</strong>
                </p>
                <p class="sub">
                  {o.copies} {o.copies === 1 ? 'copy' : 'copies'} · ordered {dateTime(o.createdAt)}
                  {o.eta !== null && open(o) && ` · done in about ${duration(o.eta)}`}
                </p>
                {open(o) && (
                  <div class="actions">
                    {o.state === 'queued' && (
                      <>
                        <button
                          type="button"
                          class="secondary"
                          data-testid="move-up"
                          disabled={busy !== null || (o.position ?? 1) <= 1}
                          onClick={() => move(o, (o.position ?? 1) - 1)}
                        >
                          Move up
                        </button>
                        <button
                          type="button"
                          class="secondary"
                          data-testid="move-down"
                          disabled={busy !== null || (o.position ?? 0) >= lastPlace}
                          onClick={() => move(o, (o.position ?? 0) + 1)}
                        >
                          Move down
                        </button>
                      </>
                    )}
                    <button type="button" class="danger" data-testid="cancel-order" disabled={busy !== null} onClick={() => cancel(o)}>
                      Cancel
                    </button>
                  </div>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
