// The frame (header, navigation, connection state) and the routes. Signed-out visitors who open
// a label URL are sent to sign in and then back to that machine's claim screen.
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { A } from './components/ui';
import { AdminLive } from './lib/admin-live';
import { AgentLive } from './lib/agent-live';
import type { LinkState } from './lib/link';
import { live } from './lib/live';
import { Observable, useObservable } from './lib/observable';
import { match, navigate, usePath } from './lib/router';
import { rememberReturnPath, session, signOut, takeReturnPath } from './lib/session';
import { AdminAddDevice } from './screens/admin/add-device';
import { AdminAlerts } from './screens/admin/alerts';
import { AdminAgents } from './screens/admin/agents';
import { AdminAudit } from './screens/admin/audit';
import { AdminDashboard } from './screens/admin/dashboard';
import { AdminDevice } from './screens/admin/device';
import { AdminFlash } from './screens/admin/flash';
import { AdminJobsPage } from './screens/admin/jobs';
import { AdminLocation } from './screens/admin/location';
import { AdminLocations } from './screens/admin/locations';
import { Fleet } from './screens/admin/fleet';
import { AdminRollouts } from './screens/admin/rollouts';
import { AdminTokens } from './screens/admin/tokens';
import { Claim } from './screens/claim';
import { DevicePage } from './screens/device';
import { Devices } from './screens/devices';
import { History } from './screens/history';
import { JobPage } from './screens/job';
import { PoolJobPage } from './screens/pool-job';
import { PoolLabel, PoolPage, Pools } from './screens/pools';
import { Login } from './screens/login';
import { Orders } from './screens/orders';
import { Scan } from './screens/scan';
import { OrderPage } from './order/order-page';

const noLink = new Observable<LinkState>('closed');
const LINK_TEXT: Record<LinkState, string> = { connecting: 'connecting…', online: 'online', reconnecting: 'reconnecting…', closed: 'offline' };

function LinkBadge(props: { state: LinkState }): JSX.Element {
  return (
    <span class={`link link-${props.state}`} role="status" aria-live="polite" data-testid="link-state" data-state={props.state}>
      <span class="dot" aria-hidden="true" />
      {LINK_TEXT[props.state]}
    </span>
  );
}

function Header(props: { path: string }): JSX.Element {
  const s = useObservable(session);
  const l = useObservable(live);
  const linkState = useObservable(l?.link.state ?? noLink);
  const nav =
    s?.kind === 'admin'
      ? [
          ['/admin/dashboard', 'Dashboard'],
          ['/admin', 'Fleet'],
          ['/admin/jobs', 'Jobs'],
          ['/admin/alerts', 'Alerts'],
          ['/admin/audit', 'Audit'],
          ['/admin/agents', 'Agents'],
          ['/admin/locations', 'Locations'],
          ['/admin/tokens', 'Tokens'],
          ['/admin/flash', 'Flash'],
          ['/admin/rollouts', 'Rollouts'],
        ]
      : [
          ['/devices', 'Machines'],
          ['/pools', 'Any machine'],
          ['/scan', 'Scan'],
          ['/orders', 'Orders'],
          ['/history', 'History'],
        ];
  const current = (href: string) => (props.path === href || (href !== '/admin' && props.path.startsWith(href + '/')) ? 'page' : undefined);
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <div class="bar">
        <span class="brand">fleetbind</span>
        {s && <LinkBadge state={linkState} />}
        {s && (
          <span class="who" title={`Signed in as ${s.username}`}>
            {s.name}
          </span>
        )}
      </div>
      {s && linkState === 'reconnecting' && (
        <p class="offline-note" data-testid="offline-note">
          No connection to the server. Reconnecting by itself; what you see may be out of date until then.
        </p>
      )}
      {s && (
        <nav aria-label="Main" class={nav.length > 5 ? 'scrolls' : 'wraps'}>
          {nav.map(([href, label]) => (
            <A key={href} href={href!} aria-current={current(href!)}>
              {label}
            </A>
          ))}
          <button type="button" class="link-button" onClick={() => void signOut('You signed out.')}>
            Sign out
          </button>
        </nav>
      )}
    </header>
  );
}

function agentRoute(path: string): JSX.Element | null {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/devices') return <Devices />;
  if (path === '/scan') return <Scan />;
  if (path === '/history') return <History />;
  if (path === '/orders') return <Orders />;
  if (path === '/pools') return <Pools />;
  if ((m = match('/pools/:location', path))) return <PoolPage location={m.location!} />;
  if ((m = match('/pool-jobs/:job', path))) return <PoolJobPage job={m.job!} />;
  if ((m = match('/p/:label', path))) return <PoolLabel label={`/p/${m.label}`} />;
  if ((m = match('/c/:label', path))) return <Claim target={`/c/${m.label}`} />;
  if ((m = match('/claim/:target', path))) return <Claim target={m.target!} />;
  if ((m = match('/devices/:id', path))) return <DevicePage id={m.id!} />;
  if ((m = match('/devices/:id/jobs/:job', path))) return <JobPage device={m.id!} job={m.job!} />;
  return null;
}

function adminRoute(path: string): JSX.Element | null {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/admin') return <Fleet />;
  if (path === '/admin/agents') return <AdminAgents />;
  if (path === '/admin/tokens') return <AdminTokens />;
  if (path === '/admin/flash') return <AdminFlash />;
  if (path === '/admin/rollouts') return <AdminRollouts />;
  if (path === '/admin/dashboard') return <AdminDashboard />;
  if (path === '/admin/jobs') return <AdminJobsPage />;
  if (path === '/admin/alerts') return <AdminAlerts />;
  if (path === '/admin/audit') return <AdminAudit />;
  if (path === '/admin/locations') return <AdminLocations />;
  if ((m = match('/admin/locations/:id', path))) return <AdminLocation id={m.id!} />;
  if (path === '/admin/devices/new') return <AdminAddDevice />;
  if ((m = match('/admin/devices/:id', path))) return <AdminDevice id={m.id!} />;
  return null;
}

function NotFound(props: { home: string }): JSX.Element {
  return (
    <main id="main" class="page">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing here. <A href={props.home}>Go to the start page</A>.
      </p>
    </main>
  );
}

export function App(): JSX.Element {
  const path = usePath();
  const s = useObservable(session);
  const l = useObservable(live);
  const bare = path.split('?')[0]!;

  // A walk-up customer's page needs no sign-in: the order label is its own permission.
  const orderLabel = match('/o/:label', bare);
  useEffect(() => {
    if (orderLabel) return;
    if (s === null && bare !== '/login') {
      if (bare !== '/') rememberReturnPath(path);
      navigate('/login', { replace: true });
    }
    if (s !== null && bare === '/login') {
      // Back to what the person opened before signing in (a label URL), if it is for their kind.
      const back = takeReturnPath();
      const home = s.kind === 'admin' ? '/admin' : '/devices';
      navigate(back !== null && (s.kind === 'admin') === back.startsWith('/admin') ? back : home, { replace: true });
    }
  }, [s, bare]);

  if (orderLabel) return <OrderPage label={`/o/${orderLabel.label}`} />;
  let body: JSX.Element | null = null;
  if (s === null || bare === '/login') body = <Login />;
  else if (s.kind === 'agent' && l instanceof AgentLive) body = agentRoute(bare) ?? <NotFound home="/devices" />;
  else if (s.kind === 'admin' && l instanceof AdminLive) body = adminRoute(bare) ?? <NotFound home="/admin" />;
  return (
    <>
      <Header path={bare} />
      {body}
    </>
  );
}
