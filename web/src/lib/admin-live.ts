// An admin's live feed: every device's presence and queue depth, and a tick whenever any
// agent's bindings change so the fleet screens reload from the REST API.
import type { JobsSnapshot, Status } from '../../../protocol/messages';
import { PREFIX, adminAlertsTopic, adminTopic, adminTransferTopic, parseTopic } from '../../../protocol/topics';
import { Link } from './link';
import { Observable } from './observable';
import { type Session, expireSession } from './session';

export interface AdminState {
  status: Record<string, Status>;
  queueDepth: Record<string, number>;
  /** Changes whenever a binding changes anywhere; screens reload when it does. */
  bindingsTick: number;
  /** Changes whenever a transfer request is made or decided; the request list reloads. */
  transfersTick: number;
  /** Changes whenever an alert is raised, cleared or acknowledged; the alert list reloads. */
  alertsTick: number;
}

export class AdminLive {
  readonly state = new Observable<AdminState>({ status: {}, queueDepth: {}, bindingsTick: 0, transfersTick: 0, alertsTick: 0 });
  readonly link: Link;
  private reloadTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly session: Session) {
    this.link = new Link(session, adminTopic(session.id, 'req'), adminTopic(session.id, 'res'), {
      message: (topic, json) => this.onMessage(topic, json),
      connected: () => this.bump(),
      refused: expireSession,
    });
    this.link.want([`${PREFIX}/d/+/status`, `${PREFIX}/d/+/jobs`, `${PREFIX}/a/+/bindings`, adminTransferTopic, adminAlertsTopic]);
  }

  start(): void {
    this.link.start();
  }

  stop(): void {
    this.link.end();
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  private onMessage(topic: string, json: unknown): void {
    const st = this.state.get();
    if (topic === adminTransferTopic) {
      this.state.set({ ...st, transfersTick: st.transfersTick + 1 });
      return;
    }
    if (topic === adminAlertsTopic) {
      this.state.set({ ...st, alertsTick: st.alertsTick + 1 });
      return;
    }
    const t = parseTopic(topic);
    if (!t) return;
    if (t.kind === 'device' && t.leaf === 'status') this.state.set({ ...st, status: { ...st.status, [t.device]: json as Status } });
    else if (t.kind === 'device' && t.leaf === 'jobs')
      this.state.set({ ...st, queueDepth: { ...st.queueDepth, [t.device]: (json as JobsSnapshot).jobs.length } });
    else if (t.kind === 'agent' && t.leaf === 'bindings') this.bump();
  }

  /** Coalesces bursts (a transfer republishes two agents' bindings). */
  private bump(): void {
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.state.update((s) => ({ ...s, bindingsTick: s.bindingsTick + 1 }));
    }, 100);
  }
}
