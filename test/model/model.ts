// The reference model of one broker (docs/architecture.md, Bindings, Jobs, and Locations and
// pools) in plain TS: who holds each device (owned devices by claim, pool devices by lease), what
// each job's state is, the pool queue, which jobs each device was sent, and what each agent has
// subscribed to. Commands change it with the rules the broker promises; the test then checks the
// real broker against it.
import type { JobState } from '../../protocol/jobs';

export type Kind = 'identify' | 'serial.send';
export const OPEN_STATES: readonly JobState[] = ['queued', 'dispatched', 'running'];
const ACTIVE: readonly JobState[] = ['dispatched', 'running'];
/** Kinds that go back to the queue when their device drops while they run (protocol/jobs.ts). */
const IDEMPOTENT: Record<Kind, boolean> = { identify: true, 'serial.send': false };

/** A job; a pool job has no device while it waits in the pool queue (`waited` says it did). */
export interface ModelJob {
  id: string;
  device: number | null;
  agent: number;
  kind: Kind;
  state: JobState;
  seq: number;
  pool: boolean;
  waited: boolean;
}
export interface ModelDevice {
  connected: boolean;
  /** Index of the agent that holds it (the lessee of a pool device), or null. */
  holder: number | null;
  /** The kinds a pool device runs; null for an owned device. */
  pool: readonly Kind[] | null;
  /** Every job the broker sent to the device to run (not cancels), in order, resends included. */
  dispatches: string[];
}
export interface ModelAgent {
  connected: boolean;
  subs: Set<string>;
}
/** An agent's release of a device, answered ok in this step: the id of its answer. */
export interface Cut {
  agent: number;
  device: number;
  answer: string;
}

export class Model {
  readonly devices: ModelDevice[];
  readonly agents: ModelAgent[];
  readonly jobs = new Map<string, ModelJob>();
  private seq = 0;
  /** Holders before the step now running, for the entitlement check (see entitled()). */
  holdersBefore: (number | null)[];
  /**
   * Releases answered ok in the step now running. The broker changes the binding before it
   * publishes the answer, and writes each client's messages in the order it authorised them, so
   * nothing of the device may reach the agent after that answer (see check.ts, entitlement).
   */
  cuts: Cut[] = [];
  /** Steps taken and faults injected in this run. */
  steps = 0;
  faults = 0;

  /** `owned` owned devices, then one pool device per entry of `poolCaps`, running those kinds. */
  constructor(owned: number, agents: number, ownTopics: (agent: number) => string[], poolCaps: readonly (readonly Kind[])[]) {
    this.devices = [
      ...Array.from({ length: owned }, () => ({ connected: true, holder: null, pool: null, dispatches: [] })),
      ...poolCaps.map((caps) => ({ connected: true, holder: null, pool: caps, dispatches: [] })),
    ];
    this.agents = Array.from({ length: agents }, (_, i) => ({ connected: true, subs: new Set(ownTopics(i)) }));
    this.holdersBefore = this.devices.map(() => null);
  }

  /** Called at the start of each step. */
  beginStep(): void {
    this.steps++;
    this.holdersBefore = this.devices.map((d) => d.holder);
    this.cuts = [];
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

  /** Agent `a` released device `d`, answered by the response with id `answer`. */
  release(a: number, d: number, answer: string): void {
    this.rebind(d, null);
    this.cuts.push({ agent: a, device: d, answer });
  }

  // ---- jobs

  submit(id: string, d: number, a: number, kind: Kind): ModelJob {
    const job: ModelJob = { id, device: d, agent: a, kind, state: 'queued', seq: ++this.seq, pool: false, waited: false };
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
    if (job.device === null) {
      if (job.state !== 'queued') return { ok: false, code: 'NOT_FOUND' };
      job.state = 'cancelled';
      return { ok: true };
    }
    if (job.state === 'queued' || ACTIVE.includes(job.state)) {
      // An active job's device confirms at once (the test device acks every cancel).
      const wasActive = job.state !== 'queued';
      job.state = 'cancelled';
      if (wasActive) this.pump(job.device);
      this.settle(job.device);
      return { ok: true };
    }
    if (job.state === 'cancelled') return { ok: true };
    return { ok: false, code: 'CONFLICT' };
  }

  finish(d: number, state: 'running' | 'done' | 'failed'): ModelJob {
    const job = this.active(d)!;
    job.state = state;
    if (state !== 'running') {
      this.pump(d);
      this.settle(d);
    }
    return job;
  }

  // ---- pools

  /** The pool queue: waiting pool jobs, oldest first. */
  waiting(): ModelJob[] {
    return [...this.jobs.values()].filter((j) => j.device === null && j.state === 'queued').sort((x, y) => x.seq - y.seq);
  }

  /** A free (unleased), connected pool device that runs the kind. */
  private freeFor(kind: Kind): number | undefined {
    const i = this.devices.findIndex((d) => d.pool?.includes(kind) && d.connected && d.holder === null);
    return i < 0 ? undefined : i;
  }

  /**
   * Where a pool submit goes: refused with no capable device online; else a free capable device,
   * at once if nobody waits, or by the drain that follows its joining the queue (no free device
   * runs any job already waiting, so it is the only one a free device can take); else the pool
   * queue (null).
   */
  poolPlace(kind: Kind): 'refused' | number | null {
    if (!this.devices.some((d) => d.pool?.includes(kind) && d.connected)) return 'refused';
    return this.freeFor(kind) ?? null;
  }

  poolSubmit(id: string, a: number, kind: Kind, d: number | null): ModelJob {
    const job: ModelJob = { id, device: null, agent: a, kind, state: 'queued', seq: ++this.seq, pool: true, waited: d === null || this.waiting().length > 0 };
    this.jobs.set(id, job);
    if (d !== null) this.lease(job, d);
    return job;
  }

  private lease(job: ModelJob, d: number): void {
    job.device = d;
    this.devices[d]!.holder = job.agent;
    this.pump(d);
  }

  /** FIFO: each waiting job, oldest first, takes a free device that runs it; one that none runs keeps its place. */
  drain(): void {
    for (const job of this.waiting()) {
      const d = this.freeFor(job.kind);
      if (d !== undefined) this.lease(job, d);
    }
  }

  /** A lease ends when its device has no unfinished job; the freed device goes to the pool queue. */
  private settle(d: number): void {
    const dev = this.devices[d]!;
    if (dev.pool === null || dev.holder === null || this.openJobs(d).length > 0) return;
    dev.holder = null;
    this.drain();
  }

  /**
   * The interrupted rule: a job the device never accepted goes back to the queue; a running job
   * too if its kind is idempotent, else it ends interrupted.
   */
  deviceGone(d: number): void {
    this.devices[d]!.connected = false;
    const job = this.active(d);
    if (!job) return;
    if (job.state === 'running' && !IDEMPOTENT[job.kind]) {
      job.state = 'interrupted';
      this.settle(d);
    } else job.state = 'queued';
  }

  /** Back online: its queue moves, and a free pool device takes the oldest waiting job it runs. */
  deviceBack(d: number): void {
    this.devices[d]!.connected = true;
    this.pump(d);
    if (this.devices[d]!.pool !== null) this.drain();
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
