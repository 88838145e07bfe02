// The one live connection for whoever is signed in: an AgentLive or an AdminLive.
import { AdminLive } from './admin-live';
import { AgentLive } from './agent-live';
import { Observable, useObservable } from './observable';
import { type Session, session } from './session';

export const live = new Observable<AgentLive | AdminLive | null>(null);

function follow(s: Session | null): void {
  const cur = live.get();
  if (cur && (s === null || cur.session.token !== s.token)) {
    cur.stop();
    live.set(null);
  }
  if (s && live.get() === null) {
    const next = s.kind === 'agent' ? new AgentLive(s) : new AdminLive(s);
    live.set(next);
    next.start();
  }
}

export function startLive(): void {
  follow(session.get());
  session.subscribe(follow);
}

export function useAgent(): AgentLive {
  const l = useObservable(live);
  if (!(l instanceof AgentLive)) throw new Error('this screen is for agents');
  return l;
}

export function useAdmin(): AdminLive {
  const l = useObservable(live);
  if (!(l instanceof AdminLive)) throw new Error('this screen is for admins');
  return l;
}
