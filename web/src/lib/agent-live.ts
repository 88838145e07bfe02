// An agent's live view of its machines: bindings, presence and job queues, all from MQTT. After
// every (re)connect it asks for its bindings and each machine's jobs again, so whatever changed
// while it was away is caught up.
import type { WireError } from '../../../protocol/errors';
import type { JobState } from '../../../protocol/jobs';
import type { Bindings, BoundDevice, JobsSnapshot, Status } from '../../../protocol/messages';
import type { AlertView, JobView, ShadowView, TransferRequestView } from '../../../protocol/rest';
import { agentTopic, deviceTopic, parseTopic } from '../../../protocol/topics';
import { Link } from './link';
import { Observable } from './observable';
import { type Session, authed, expireSession } from './session';

export interface JobTrack {
  job: string;
  device: string;
  kind: string;
  state: JobState;
  /** 0 on the machine, 1 next; null once the job ended. */
  position: number | null;
  /** ms until done, counted from etaAt (local clock). */
  eta: number | null;
  etaAt: number;
  progress: number | null;
  params: Record<string, unknown> | null;
  result: unknown;
  error: WireError | { code: string; message: string } | null;
  /** When the job entered each state it has been in. */
  times: Partial<Record<JobState, number>>;
}

/** A job submitted to a location's pool, from the submit until a machine takes it (or it ends waiting). */
export interface PoolJobTrack {
  job: string;
  location: string;
  kind: string;
  /** waiting in the pool queue; assigned to `device`; expired or cancelled while waiting. */
  state: 'waiting' | 'assigned' | 'expired' | 'cancelled';
  device: string | null;
  route: string | null;
  /** 1 is the next job a free machine takes. */
  position: number | null;
  /** ms until a machine is expected to take it, counted from etaAt (local clock). */
  eta: number | null;
  etaAt: number;
}

/** Where a submit goes: a machine the agent holds, or any free machine of a location's pool. */
export type SubmitTo = { device: string } | { pool: string };

interface PoolEvent {
  event: 'pool.queue' | 'pool.assigned' | 'pool.ended';
  location: string;
  job?: string;
  device?: string;
  route?: string;
  state?: 'expired' | 'cancelled';
  jobs?: { job: string; kind: string; position: number; eta: number }[];
}

export interface AgentState {
  loaded: boolean;
  devices: BoundDevice[];
  status: Record<string, Status>;
  /** Open jobs per device in queue order (from the latest snapshot). */
  queues: Record<string, string[]>;
  jobs: Record<string, JobTrack>;
  /** Each held machine's shadow (reported state, settings), from d/<dev>/shadow. */
  shadows: Record<string, ShadowView>;
  /** Open alerts per machine, from a/<agent>/alerts. */
  alerts: Record<string, AlertView[]>;
  poolJobs: Record<string, PoolJobTrack>;
}

const latest = (times: Partial<Record<JobState, number>>): number => Math.max(0, ...Object.values(times));

const OPEN: readonly JobState[] = ['queued', 'dispatched', 'running'];
export const isOpen = (s: JobState): boolean => OPEN.includes(s);

const UNBOUND = { code: 'UNBOUND', message: 'the machine was released or transferred, so this job was cancelled' };

function deviceTopics(id: string): string[] {
  return [deviceTopic(id, 'status'), deviceTopic(id, 'jobs'), deviceTopic(id, 'shadow')];
}

export class AgentLive {
  readonly state = new Observable<AgentState>({ loaded: false, devices: [], status: {}, queues: {}, jobs: {}, shadows: {}, alerts: {}, poolJobs: {} });
  /** The latest decision an admin made on one of this agent's transfer requests. */
  readonly transferDecided = new Observable<TransferRequestView | null>(null);
  readonly link: Link;

  constructor(readonly session: Session) {
    this.link = new Link(session, agentTopic(session.id, 'req'), agentTopic(session.id, 'res'), {
      message: (topic, json) => this.onMessage(topic, json),
      connected: () => void this.catchUp(),
      refused: expireSession,
    });
    this.link.want([agentTopic(session.id, 'bindings'), agentTopic(session.id, 'alerts')]);
  }

  start(): void {
    this.link.start();
  }

  stop(): void {
    this.link.end();
  }

  claim(target: string): Promise<{ device: BoundDevice; already: boolean }> {
    return this.link.request('claim', { target });
  }

  async release(device: string): Promise<void> {
    await this.link.request('release', { device });
  }

  /** Submits a job; the answer names the machine that took it (null while it waits in a pool queue). */
  async submit(to: SubmitTo, kind: string, params: Record<string, unknown>): Promise<{ job: string; device: string | null }> {
    const r = await this.link.request<{ job: string; state: JobState; position: number | null; eta: number | null; device?: string | null; route?: string }>(
      'submit',
      {
        ...to,
        kind,
        params,
        idempotencyKey: crypto.randomUUID(),
      },
    );
    const now = Date.now();
    const device = 'device' in to ? to.device : (r.device ?? null);
    if ('pool' in to) {
      const track: PoolJobTrack = {
        job: r.job,
        location: to.pool,
        kind,
        state: device === null ? 'waiting' : 'assigned',
        device,
        route: r.route ?? null,
        position: device === null ? r.position : null,
        eta: device === null ? r.eta : null,
        etaAt: now,
      };
      this.state.update((st) => ({ ...st, poolJobs: { ...st.poolJobs, [r.job]: { ...track, ...st.poolJobs[r.job] } } }));
    }
    if (device !== null)
      this.patchJob(r.job, {
        job: r.job,
        device,
        kind,
        state: r.state,
        position: r.position,
        eta: r.eta,
        etaAt: now,
        progress: null,
        params,
        result: null,
        error: null,
        times: { [r.state]: now },
      });
    return { job: r.job, device };
  }

  /** A pool job the app did not submit in this session (a reload): read once from the job record. */
  async followPoolJob(job: string): Promise<void> {
    const v = await authed<JobView>('GET', `/api/jobs/${encodeURIComponent(job)}`);
    if (v.pool === undefined) return;
    const state = v.device !== null ? 'assigned' : v.state === 'queued' ? 'waiting' : v.state === 'cancelled' ? 'cancelled' : 'expired';
    const track: PoolJobTrack = {
      job,
      location: v.pool,
      kind: v.kind,
      state,
      device: v.device,
      route: v.route ?? null,
      position: v.device === null ? v.position : null,
      eta: v.device === null ? v.eta : null,
      etaAt: Date.now(),
    };
    this.state.update((st) => ({ ...st, poolJobs: { ...st.poolJobs, [job]: track } }));
  }

  async cancel(job: string): Promise<void> {
    await this.link.request('cancel', { job });
    this.state.update((st) => {
      const p = st.poolJobs[job];
      return p?.state === 'waiting' ? { ...st, poolJobs: { ...st.poolJobs, [job]: { ...p, state: 'cancelled', position: null, eta: null } } } : st;
    });
  }

  /** The agent's own jobs on a device, newest first; also refreshes what the app knows of them. */
  async history(device: string, limit = 50): Promise<JobView[]> {
    const { jobs: views } = await this.link.request<{ device: string; at: number; jobs: JobView[] }>('jobs', { device, limit });
    const now = Date.now();
    this.state.update((st) => {
      const jobs = { ...st.jobs };
      for (const v of views) {
        // A pool job still waiting for a device is followed through its pool.queue events.
        if (v.device === null) continue;
        const prev = jobs[v.job];
        // A snapshot that arrived after this list was read is newer; keep its live fields.
        if (prev && latest(prev.times) > latest(v.times)) {
          jobs[v.job] = { ...prev, params: v.params, result: v.result ?? prev.result, times: { ...prev.times, ...v.times } };
          continue;
        }
        jobs[v.job] = {
          job: v.job,
          device: v.device,
          kind: v.kind,
          state: v.state,
          position: v.position,
          eta: v.eta,
          etaAt: now,
          progress: v.progress,
          params: v.params,
          result: v.result,
          error: v.error,
          times: { ...jobs[v.job]?.times, ...v.times },
        };
      }
      return { ...st, jobs };
    });
    return views;
  }

  private async catchUp(): Promise<void> {
    try {
      const b = await this.link.request<Bindings>('list');
      this.applyBindings(b);
      // A pool job may have been given a machine while the link was down.
      const waiting = Object.values(this.state.get().poolJobs).filter((p) => p.state === 'waiting');
      await Promise.all([...b.devices.map((d) => this.history(d.id, 20)), this.loadAlerts(), ...waiting.map((p) => this.followPoolJob(p.job))]);
    } catch (err) {
      // Stopped on purpose (signed out, or a renewed token replaced this connection): nothing failed.
      if (this.link.state.get() === 'closed') return;
      console.error('catching up after connect failed', err);
    }
  }

  private onMessage(topic: string, json: unknown): void {
    const t = parseTopic(topic);
    if (!t) return;
    if (t.kind === 'agent' && t.leaf === 'bindings' && t.agent === this.session.id) this.applyBindings(json as Bindings);
    else if (t.kind === 'agent' && t.leaf === 'res' && String((json as { event?: unknown }).event).startsWith('pool.')) this.applyPoolEvent(json as PoolEvent);
    else if (t.kind === 'agent' && t.leaf === 'res' && (json as { event?: unknown }).event === 'transfer.decided')
      this.transferDecided.set((json as { request: TransferRequestView }).request);
    else if (t.kind === 'device' && t.leaf === 'status') this.applyStatus(t.device, json as Status);
    else if (t.kind === 'device' && t.leaf === 'jobs') this.applySnapshot(json as JobsSnapshot);
    else if (t.kind === 'device' && t.leaf === 'shadow') this.applyShadow(json as ShadowView);
    else if (t.kind === 'agent' && t.leaf === 'alerts' && t.agent === this.session.id) this.applyAlert(json as { event: string; alert: AlertView });
  }

  /** Open alerts of the agent's machines, read once per connection; events keep them current. */
  private async loadAlerts(): Promise<void> {
    const open = await authed<AlertView[]>('GET', '/api/alerts?state=open');
    const alerts: Record<string, AlertView[]> = {};
    for (const a of open) alerts[a.device] = [...(alerts[a.device] ?? []), a];
    this.state.set({ ...this.state.get(), alerts });
  }

  private applyPoolEvent(e: PoolEvent): void {
    const now = Date.now();
    this.state.update((st) => {
      const poolJobs = { ...st.poolJobs };
      if (e.event === 'pool.queue') {
        for (const q of e.jobs ?? []) {
          const prev = poolJobs[q.job];
          if (prev && prev.state !== 'waiting') continue;
          poolJobs[q.job] = {
            job: q.job,
            location: e.location,
            kind: q.kind,
            state: 'waiting',
            device: null,
            route: prev?.route ?? null,
            position: q.position,
            eta: q.eta,
            etaAt: now,
          };
        }
      } else if (e.job !== undefined) {
        const prev = poolJobs[e.job] ?? { job: e.job, location: e.location, kind: '', device: null, route: null, etaAt: now };
        poolJobs[e.job] =
          e.event === 'pool.assigned'
            ? { ...prev, state: 'assigned', device: e.device ?? null, route: e.route ?? prev.route, position: null, eta: null }
            : { ...prev, state: e.state ?? 'expired', position: null, eta: null };
      }
      return { ...st, poolJobs };
    });
  }

  private applyShadow(s: ShadowView): void {
    const st = this.state.get();
    if (!st.devices.some((d) => d.id === s.device)) return;
    const prev = st.shadows[s.device];
    if (prev && prev.version > s.version) return;
    this.state.set({ ...st, shadows: { ...st.shadows, [s.device]: s } });
  }

  private applyAlert(e: { event: string; alert: AlertView }): void {
    const st = this.state.get();
    const others = (st.alerts[e.alert.device] ?? []).filter((a) => a.id !== e.alert.id);
    const mine = e.alert.state === 'open' ? [...others, e.alert] : others;
    this.state.set({ ...st, alerts: { ...st.alerts, [e.alert.device]: mine } });
  }

  private applyBindings(b: Bindings): void {
    const st = this.state.get();
    const before = new Set(st.devices.map((d) => d.id));
    const after = new Set(b.devices.map((d) => d.id));
    const gone = [...before].filter((id) => !after.has(id));
    this.link.drop(gone.flatMap(deviceTopics));
    this.link.want(b.devices.flatMap((d) => deviceTopics(d.id)));
    const status = { ...st.status };
    const queues = { ...st.queues };
    const jobs = { ...st.jobs };
    const shadows = { ...st.shadows };
    const alerts = { ...st.alerts };
    for (const id of gone) {
      delete status[id];
      delete queues[id];
      delete shadows[id];
      delete alerts[id];
      // The broker cancels this agent's jobs on a device that left it and stops telling it about
      // them, so every open view says so at once instead of showing a job that still runs.
      for (const j of Object.values(jobs)) {
        if (j.device === id && isOpen(j.state))
          jobs[j.job] = { ...j, state: 'cancelled', position: null, eta: null, error: UNBOUND, times: { ...j.times, cancelled: Date.now() } };
      }
    }
    for (const d of b.devices) {
      const known = status[d.id];
      if (!known || d.presence.since >= known.since) status[d.id] = d.presence;
    }
    this.state.set({ ...st, loaded: true, devices: b.devices, status, queues, jobs, shadows, alerts });
  }

  private applyStatus(device: string, s: Status): void {
    const st = this.state.get();
    if (!st.devices.some((d) => d.id === device)) return;
    this.state.set({ ...st, status: { ...st.status, [device]: s } });
  }

  private applySnapshot(snap: JobsSnapshot): void {
    const st = this.state.get();
    if (!st.devices.some((d) => d.id === snap.device)) return;
    const base = Math.min(snap.at, Date.now());
    const jobs = { ...st.jobs };
    for (const j of snap.jobs) {
      const prev = jobs[j.job];
      const times = { ...prev?.times };
      if (times[j.state] === undefined) times[j.state] = snap.at;
      jobs[j.job] = {
        job: j.job,
        device: snap.device,
        kind: j.kind,
        state: j.state,
        position: j.position,
        eta: j.eta,
        etaAt: base,
        progress: j.progress ?? prev?.progress ?? null,
        params: prev?.params ?? null,
        result: prev?.result ?? null,
        error: null,
        times,
      };
    }
    for (const e of snap.ended ?? []) {
      const prev = jobs[e.job];
      jobs[e.job] = {
        job: e.job,
        device: snap.device,
        kind: e.kind,
        state: e.state,
        position: null,
        eta: null,
        etaAt: base,
        progress: e.state === 'done' ? 100 : (prev?.progress ?? null),
        params: prev?.params ?? null,
        result: prev?.result ?? null,
        error: e.error ?? null,
        times: { ...prev?.times, [e.state]: e.at },
      };
    }
    const queue = [...snap.jobs].sort((a, b) => a.position - b.position).map((j) => j.job);
    // Snapshots carry no results, and a job that left the queue without an "ended" entry ended
    // while this page was not looking: both are read back from the job list.
    const vanished = (st.queues[snap.device] ?? []).filter((id) => !queue.includes(id) && !(snap.ended ?? []).some((e) => e.job === id));
    this.state.set({ ...st, jobs, queues: { ...st.queues, [snap.device]: queue } });
    if (vanished.length > 0 || (snap.ended ?? []).length > 0)
      this.history(snap.device, 20).catch((err: unknown) => console.error('refreshing ended jobs failed', err));
  }

  private patchJob(id: string, track: JobTrack): void {
    this.state.update((st) => {
      const prev = st.jobs[id];
      // A snapshot may already have moved the job on; keep the later state.
      const merged = prev ? { ...track, ...prev, params: track.params ?? prev.params, times: { ...track.times, ...prev.times } } : track;
      return { ...st, jobs: { ...st.jobs, [id]: merged } };
    });
  }
}
