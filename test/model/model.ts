// The reference model of one broker (docs/architecture.md, Bindings and Jobs) in plain TS: who
// holds each device, what each job's state is, which jobs each device was sent, and what each
// agent has subscribed to. Commands change it with the rules the broker promises; the test then
// checks the real broker against it.
import type { JobState } from '../../protocol/jobs';

export type Kind = 'identify' | 'serial.send';
export const OPEN_STATES: readonly JobState[] = ['queued', 'dispatched', 'running'];
const ACTIVE: readonly JobState[] = ['dispatched', 'running'];
/** Kinds that go back to the queue when their device drops while they run (protocol/jobs.ts). */
const IDEMPOTENT: Record<Kind, boolean> = { identify: true, 'serial.send': false };

export interface ModelJob { id: string; device: number; agent: number; kind: Kind; state: JobState; seq: number }
export interface ModelDevice {
  connected: boolean;
  /** Index of the agent that holds it, or null. */
  holder: number | null;
  /** Every job the broker sent to the device to run (not cancels), in order, resends included. */
  dispatches: string[];
}
export interface ModelAgent { connected: boolean; subs: Set<string> }

export class Model {
  readonly devices: ModelDevice[];
  readonly agents: ModelAgent[];
  readonly jobs = new Map<string, ModelJob>();
  private seq = 0;
  /** Holders before the step now running, for the entitlement check (see entitled()). */
  holdersBefore: (number | null)[];
  /** Steps taken and faults injected in this run. */
  steps = 0;
  faults = 0;

  constructor(devices: number, agents: number, ownTopics: (agent: number) => string[]) {
    this.devices = Array.from({ length: devices }, () => ({ connected: true, holder: null, dispatches: [] }));
    this.agents = Array.from({ length: agents }, (_, i) => ({ connected: true, subs: new Set(ownTopics(i)) }));
    this.holdersBefore = this.devices.map(() => null);
  }

  /** Called at the start of each step. */
  beginStep(): void {
    this.steps++;
    this.holdersBefore = this.devices.map((d) => d.holder);
  }

  /** Agent `a` may have been sent device `d`'s messages during this step: it held d before or after it. */
  entitled(a: number, d: number): boolean {
    return this.holdersBefore[d] === a || this.devices[d]!.holder === a;
  }

  jobsOf(d: number): ModelJob[] {
    return [...this.jobs.values()].filter((j) => j.device === d).sort((x, y) => x.seq - y.seq);
  }

  active(d: number): ModelJob | undefined {
    return this.jobsOf(d).find((j) => ACTIVE.includes(j.state));
  }

  openJobs(d: number): ModelJob[] {
    return this.jobsOf(d).filter((j) => OPEN_STATES.includes(j.state));
  }

  // ---- bindings

  /** The holder changes; every open job of any other agent is cancelled (UNBOUND), then the queue moves on. */
  rebind(d: number, to: number | null): void {
    const dev = this.devices[d]!;
    if (dev.holder === to) return;
    dev.holder = to;
    for (const j of this.openJobs(d)) if (j.agent !== to) j.state = 'cancelled';
    this.pump(d);
  }

  // ---- jobs

  submit(id: string, d: number, a: number, kind: Kind): ModelJob {
    const job: ModelJob = { id, device: d, agent: a, kind, state: 'queued', seq: ++this.seq };
    this.jobs.set(id, job);
    this.pump(d);
    return job;
  }

  /** One job at a time: the oldest queued job of a connected device is sent to it. */
  pump(d: number): void {
    const dev = this.devices[d]!;
    if (!dev.connected || this.active(d)) return;
    const head = this.jobsOf(d).find((j) => j.state === 'queued');
    if (!head) return;
    head.state = 'dispatched';
    dev.dispatches.push(head.id);
  }

  /** What an agent's cancel answers, and the job's state after it. */
  cancel(job: ModelJob): { ok: boolean; code?: string } {
    if (job.state === 'queued' || ACTIVE.includes(job.state)) {
      // An active job's device confirms at once (the test device acks every cancel).
      const wasActive = job.state !== 'queued';
      job.state = 'cancelled';
      if (wasActive) this.pump(job.device);
      return { ok: true };
    }
    if (job.state === 'cancelled') return { ok: true };
    return { ok: false, code: 'CONFLICT' };
  }

  finish(d: number, state: 'running' | 'done' | 'failed'): ModelJob {
    const job = this.active(d)!;
    job.state = state;
    if (state !== 'running') this.pump(d);
    return job;
  }

  /**
   * The interrupted rule: a job the device never accepted goes back to the queue; a running job
   * too if its kind is idempotent, else it ends interrupted.
   */
  deviceGone(d: number): void {
    this.devices[d]!.connected = false;
    const job = this.active(d);
    if (!job) return;
    if (job.state === 'running' && !IDEMPOTENT[job.kind]) job.state = 'interrupted';
    else job.state = 'queued';
  }

  deviceBack(d: number): void {
    this.devices[d]!.connected = true;
    this.pump(d);
  }
}

/** MQTT topic filter matching (+ one level, # the rest). */
export function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
