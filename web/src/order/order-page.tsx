// The walk-up customer's page, opened by the order label's QR (/o/<code>.<sig>): the machine,
// an upload with a preview, then each order's live state. The session is kept on the phone, so
// reopening the page within it shows the orders again (docs/architecture.md, "Walk-up orders").
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { MachinePublic, OpenedSession, OrderUpdate, OrderView, SessionState, UploadedDesign } from '../../../protocol/orders';
import { ApiError, request } from '../lib/api';
import { useObservable } from '../lib/observable';
import { CustomerLink } from './customer-link';
import { LANGUAGES, type Lang, errorText, lang, setLang, stringsOf } from './strings';
import type { Strings } from './strings-en';

interface Stored {
  session: string;
  token: string;
}
const storeKey = (label: string): string => `fb-order:${label}`;
/** While the page is open it counts as activity, so a customer waiting for a print keeps its session. */
const KEEPALIVE_MS = 60_000;

async function uploadDesign(s: Stored, file: File): Promise<UploadedDesign> {
  const form = new FormData();
  form.append('file', file, file.name);
  const res = await fetch(`/api/orders/${s.session}/designs`, { method: 'POST', headers: { authorization: `Bearer ${s.token}` }, body: form });
  const json = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok) throw new ApiError(res.status, (json?.error as ApiError['wire']) ?? { code: 'INTERNAL', message: String(res.status) });
  return json as unknown as UploadedDesign;
}

function stateText(t: Strings, o: OrderView): string {
  switch (o.state) {
    case 'queued':
      return t.state.queued(o.position ?? 1, Math.max(1, Math.ceil((o.eta ?? 0) / 60_000)));
    case 'dispatched':
    case 'running':
      return t.state.printing(o.progress);
    case 'done':
      return t.state.done;
    case 'failed':
    case 'interrupted':
      return t.state.failed(o.error?.message ?? '');
    case 'cancelled':
      return t.state.cancelled;
    case 'expired':
      return t.state.expired;
  }
}

function LangSwitch(props: { current: Lang }): JSX.Element {
  return (
    <div class="lang-switch" role="group" aria-label="Language">
      {(Object.keys(LANGUAGES) as Lang[]).map((l) => (
        <button key={l} type="button" aria-pressed={props.current === l} onClick={() => setLang(l)} data-testid={`lang-${l}`}>
          {LANGUAGES[l].lang}
        </button>
      ))}
    </div>
  );
}

function MachineCard(props: { t: Strings; machine: MachinePublic }): JSX.Element {
  const { t, machine } = props;
  return (
    <section class="card machine-card" data-testid="machine">
      <div class="muted">{t.machine}</div>
      <div class="machine-code">{machine.code}</div>
      <div class={`machine-status status-${machine.status}`} data-testid="machine-status">
        {t.status[machine.status]} · {t.queueLength(machine.queueLength)}
      </div>
    </section>
  );
}

function OrderCard(props: { t: Strings; order: OrderView; onCancel(): void }): JSX.Element {
  const { t, order } = props;
  const active = order.state === 'dispatched' || order.state === 'running';
  return (
    <li class={`card order order-${order.state}`} data-testid="order" data-order={order.order} data-state={order.state} data-position={order.position ?? ''}>
      <img class="thumb" src={order.thumb} alt={t.preview} width={64} height={136} />
      <div class="order-body">
        <p class="order-state" role="status" aria-live="polite">
          {stateText(t, order)}
        </p>
        {active && <progress max={100} value={order.progress ?? undefined} />}
        {order.state === 'queued' && (
          <button type="button" class="secondary" onClick={props.onCancel}>
            {t.cancel}
          </button>
        )}
      </div>
    </li>
  );
}

export function OrderPage(props: { label: string }): JSX.Element {
  const l = useObservable(lang);
  const t = stringsOf(l);
  const [stored, setStored] = useState<Stored | null>(null);
  const [machine, setMachine] = useState<MachinePublic | null>(null);
  const [orders, setOrders] = useState<OrderView[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [ended, setEnded] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [notify, setNotify] = useState(typeof Notification !== 'undefined' && Notification.permission === 'granted');
  const link = useRef<CustomerLink | null>(null);
  const preview = useMemo(() => (file ? URL.createObjectURL(file) : null), [file]);

  const fail = (err: unknown): void => {
    const code = err instanceof ApiError ? err.wire.code : 'other';
    if (code === 'SESSION_EXPIRED' || (err instanceof ApiError && err.status === 401)) {
      localStorage.removeItem(storeKey(props.label));
      setEnded(true);
    }
    setProblem(code);
  };

  const refresh = async (s: Stored): Promise<void> => {
    const state = await request<SessionState>('GET', `/api/orders/${s.session}`, undefined, s.token);
    setMachine(state.machine);
    setOrders(state.orders);
    for (const o of state.orders) link.current?.follow(o.order);
  };

  // Open (or recover) the session once, then follow its orders live.
  useEffect(() => {
    let stop = false;
    const open = async (): Promise<void> => {
      const saved = localStorage.getItem(storeKey(props.label));
      let s: Stored | null = saved ? (JSON.parse(saved) as Stored) : null;
      if (s) {
        try {
          await refresh(s);
        } catch {
          s = null;
        }
      }
      if (!s) {
        const opened = await request<OpenedSession>('POST', '/api/orders/sessions', { label: props.label });
        s = { session: opened.session, token: opened.token };
        localStorage.setItem(storeKey(props.label), JSON.stringify(s));
        setMachine(opened.machine);
      }
      if (stop) return;
      setStored(s);
      const current = s;
      link.current = new CustomerLink(s.session, s.token, (u) => apply(u));
      link.current.start();
      await refresh(current);
    };
    open().catch(fail);
    return () => {
      stop = true;
      link.current?.stop();
    };
  }, [props.label]);

  useEffect(() => {
    if (!stored) return;
    const timer = setInterval(() => void refresh(stored).catch(fail), KEEPALIVE_MS);
    return () => clearInterval(timer);
  }, [stored]);

  const apply = (u: OrderUpdate): void => {
    setMachine((m) => (m ? { ...m, status: u.machine.status, queueLength: u.machine.queueLength } : m));
    setOrders((list) =>
      list.map((o) => {
        if (o.order !== u.order) return o;
        if (u.state === 'done' && o.state !== 'done' && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
          new Notification(stringsOf(lang.get()).notifyDone);
        }
        return { ...o, state: u.state, position: u.position, eta: u.eta, progress: u.progress, error: u.error };
      }),
    );
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!stored || !file) return;
    setBusy(true);
    setProblem(null);
    try {
      const design = await uploadDesign(stored, file);
      const o = await request<OrderView>('POST', `/api/orders/${stored.session}/orders`, { design: design.design, copies: 1 }, stored.token);
      link.current?.follow(o.order);
      setOrders((list) => [...list, o]);
      setFile(null);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const cancel = (o: OrderView): void => {
    if (!stored) return;
    request<OrderView>('POST', `/api/orders/${stored.session}/orders/${o.order}/cancel`, undefined, stored.token)
      .then((v) => setOrders((list) => list.map((x) => (x.order === v.order ? v : x))))
      .catch(fail);
  };

  const askNotify = (): void => {
    if (typeof Notification === 'undefined') return;
    void Notification.requestPermission().then((p) => setNotify(p === 'granted'));
  };

  const open = orders.some((o) => o.state === 'queued' || o.state === 'dispatched' || o.state === 'running');
  return (
    <main id="main" class="order-page" lang={l}>
      <header class="order-top">
        <h1>{t.title}</h1>
        <LangSwitch current={l} />
      </header>
      {machine ? <MachineCard t={t} machine={machine} /> : !problem && <p class="muted">{t.opening}</p>}
      {problem && (
        <p class="notice error" role="alert" data-testid="order-problem" data-code={problem}>
          {errorText(t, problem)}
        </p>
      )}
      {stored && !ended && (
        <form class="card upload" onSubmit={(e) => void submit(e)}>
          <label class="file-pick">
            <span class="file-button">{t.choose}</span>
            <input
              type="file"
              accept="image/png,image/jpeg,image/webp"
              data-testid="design-file"
              onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
            />
          </label>
          <p class="muted small">{t.chooseHint}</p>
          {preview && <img class="preview" src={preview} alt={t.preview} data-testid="preview" />}
          <button type="submit" class="primary" disabled={!file || busy} data-testid="submit">
            {busy ? t.sending : orders.length > 0 ? t.another : t.submit}
          </button>
        </form>
      )}
      {orders.length > 0 && (
        <section>
          <h2>{t.yourOrders}</h2>
          <ul class="orders">
            {orders.map((o) => (
              <OrderCard key={o.order} t={t} order={o} onCancel={() => cancel(o)} />
            ))}
          </ul>
          {open &&
            typeof Notification !== 'undefined' &&
            (notify ? (
              <p class="muted small">{t.notifyOn}</p>
            ) : (
              <button type="button" class="secondary" onClick={askNotify}>
                {t.notify}
              </button>
            ))}
        </section>
      )}
    </main>
  );
}
