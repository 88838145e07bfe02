// A fast-check command model of one location against the real binding, lease and pool-queue
// store (broker/store/bindings.ts, leases.ts, locations.ts) on a real SQLite file
// (docs/architecture.md, Bindings; Locations and pools). The location has four pool devices and
// two owned ones. Commands: claims, releases and admin transfers (owned devices take them; pool
// devices refuse each), pool submits, the device accepting its job, completions, device
// disconnects (mid-job: the interrupted rule; free: the pool skips it) and reconnects, cancels of
// waiting jobs, an admin's forced release, a mode switch, and a second agent's lease attempt. The
// driver makes the broker's store calls in the broker's order (claims.ts, pools/pools.ts, the jobs
// engine's transitions): lease a free capable online device when nobody waits, or queue; when a
// device's job ends, end its lease and give it to the oldest waiting job it can run in the same
// transaction; when a device frees up otherwise, give it to the oldest waiting job it can run.
// After every command:
//   - at most one agent per device: no device has two open leases, every leased device is bound to
//     its open lease's agent, and the bindings are the model's;
//   - a pool device is only ever leased, an owned one never;
//   - no orphaned lease: every open lease's device has an unfinished job;
//   - FIFO: a device given to a waiting job could run no older waiting job;
//   - each job runs exactly once: one device, given once, at most one final event, and every
//     submitted job is waiting, on its device, or ended, exactly as the model says.
// 1,000 runs; a failure prints the shrunk commands and how to replay them (FLEETBIND_POOLS_SEED,
// _PATH and _REPLAY: fast-check rebuilds a shrunk command list only with its replay path too).
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import * as assert from 'uvu/assert';
import { asRegistry, type JobsDatabase } from '../../broker/jobs/schema';
import { ACTIVE_STATES, insertJob, OPEN_STATES, transition } from '../../broker/jobs/store';
import { createAgent } from '../../broker/store/accounts';
import { claimDevice, rebindDevice } from '../../broker/store/bindings';
import type { Registry } from '../../broker/store/db';
import { provisionDevice } from '../../broker/store/devices';
import { closeOrphanedLeases, decide, endLease, enqueue, oldestWaitingFor, startLease, unassign, waiting, waitingCount } from '../../broker/store/leases';
import { createLocation, devicesAt, placeDevice, poolDevices, setAgentLocations } from '../../broker/store/locations';
import type { PoolEntryRow } from '../../broker/store/schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { FINAL_JOB_STATES } from '../../protocol/jobs';
import { leaseProblems } from '../helpers/pools';
import { openTestRegistry } from '../helpers/registry';
import { suite } from '../helpers/suite';

const RUNS = 1000;
const LOC = 'hall';
const AGENTS = ['a0', 'a1', 'a2'];
/** Two devices run both kinds, one only identify, one only serial.send: FIFO must skip, not block. */
const CAPS: Record<string, string[]> = { d0: ['identify', 'serial.send'], d1: ['identify', 'serial.send'], d2: ['identify'], d3: ['serial.send'] };
const DEVICES = Object.keys(CAPS);
/** Owned devices at the same location: claimed for keeps, never leased. */
const OWNED = ['o0', 'o1'];
const ALL = [...DEVICES, ...OWNED];
const isPool = (d: string): boolean => DEVICES.includes(d);
const KINDS = ['identify', 'serial.send'] as const;
type Kind = (typeof KINDS)[number];
/** identify is safe to repeat: a device dropping mid-job keeps it (and its lease); serial.send is interrupted. */
const REPEATABLE: Record<Kind, boolean> = { identify: true, 'serial.send': false };
const DEVICE_LIMIT = 100;

interface Job {
  id: string;
  agent: string;
  kind: Kind;
  seq: number;
  state: 'waiting' | 'on-device' | 'running' | 'done' | 'interrupted' | 'cancelled';
  device: string | null;
}
interface Model {
  jobs: Job[];
  online: Set<string>;
  holder: Map<string, string>;
  seq: number;
}

/** The refusal's code, or null when the call went through. */
async function refusal(p: Promise<unknown>): Promise<string | null> {
  return p.then(
    (v) => (v instanceof ProtocolError ? v.code : null),
    (e: unknown) => {
      if (e instanceof ProtocolError) return e.code;
      throw e;
    },
  );
}

/** The real store on a real SQLite file; the broker's steps, one at a time. */
class Real {
  now = 1_000_000;
  /** Each assignment of a waiting job: the device and the job. */
  readonly assignments: { device: string; job: string }[] = [];
  constructor(
    readonly reg: Registry,
    readonly online: Set<string>,
  ) {}

  get db(): Kysely<JobsDatabase> {
    return this.reg.db as unknown as Kysely<JobsDatabase>;
  }

  tick(): number {
    return ++this.now;
  }

  private job(trx: Kysely<JobsDatabase>, id: string, device: string, agent: string, kind: string) {
    return insertJob(
      trx as never,
      { id, device, agent, kind, params: '{}', hold: false, ttlMs: 60_000, idempotencyKey: null, now: this.now, via: { pool: LOC, route: 'pool' } },
      100,
    );
  }

  /** The open job on the device (the engine's queue holds one per leased device here). */
  private async openJob(device: string): Promise<string> {
    const row = await this.db.selectFrom('jobs').select('id').where('device', '=', device).where('state', 'in', OPEN_STATES).executeTakeFirstOrThrow();
    return row.id;
  }

  claim(agent: string, device: string): Promise<string | null> {
    return refusal(
      this.reg.db
        .transaction()
        .execute((trx) => claimDevice(trx, { device, agent, via: 'device-id', now: this.tick(), defaultLimit: DEVICE_LIMIT, lockAgent: false })),
    );
  }

  release(agent: string, device: string): Promise<string | null> {
    return refusal(
      rebindDevice(this.reg.db, { device, holder: agent, to: null, actor: `agent:${agent}`, force: false, now: this.tick(), defaultLimit: DEVICE_LIMIT }),
    );
  }

  transfer(device: string, to: string): Promise<string | null> {
    return refusal(rebindDevice(this.reg.db, { device, to, actor: 'admin:root', reason: 'model', force: false, now: this.tick(), defaultLimit: DEVICE_LIMIT }));
  }

  /** Leased at once if nobody waits; else queued, then the queue drained (a free device may take it). */
  async submit(agent: string, kind: Kind): Promise<{ id: string; device: string | null }> {
    const id = randomUUID();
    const now = this.tick();
    const free = (await poolDevices(this.reg.db, LOC)).filter((d) => d.agent_id === null && this.online.has(d.id) && CAPS[d.id]!.includes(kind));
    const leased = await this.db.transaction().execute(async (trx) => {
      if ((await waitingCount(asRegistry(trx), LOC)) === 0) {
        for (const d of free) {
          if ((await startLease(asRegistry(trx), { lease: randomUUID(), device: d.id, agent, location: LOC, job: id, route: 'pool', now })) === null) continue;
          await this.job(trx, id, d.id, agent, kind);
          return { id, device: d.id };
        }
      }
      await enqueue(asRegistry(trx), { id, location: LOC, agent, kind, params: '{}', hold: false, ttlMs: 60_000, route: 'pool', now, idempotencyKey: null });
      return null;
    });
    if (leased !== null) return leased;
    await this.drain();
    return { id, device: this.assignments.find((a) => a.job === id)?.device ?? null };
  }

  /** Free online devices to the oldest waiting job each can run. */
  async drain(): Promise<void> {
    const free = (await poolDevices(this.reg.db, LOC)).filter((d) => d.agent_id === null && this.online.has(d.id));
    for (const e of await waiting(this.reg.db, LOC)) {
      const i = free.findIndex((d) => CAPS[d.id]!.includes(e.kind));
      if (i < 0) continue;
      const device = free.splice(i, 1)[0]!.id;
      const now = this.tick();
      const won = await this.db.transaction().execute((trx) => this.take(trx, e, device, now));
      if (won) this.assignments.push({ device, job: e.id });
    }
  }

  /** A waiting entry takes the device: its conditional UPDATE, the lease's and the job's insert. */
  private async take(trx: Kysely<JobsDatabase>, e: PoolEntryRow, device: string, now: number): Promise<boolean> {
    if (!(await decide(asRegistry(trx), e.id, 'assigned', now, device))) return false;
    if ((await startLease(asRegistry(trx), { lease: randomUUID(), device, agent: e.agent, location: LOC, job: e.id, route: 'pool', now })) === null) {
      await unassign(asRegistry(trx), e.id);
      return false;
    }
    await this.job(trx, e.id, device, e.agent, e.kind);
    return true;
  }

  /** The engine's way: a conditional state transition with its history row. */
  private async move(device: string, from: readonly string[], to: 'dispatched' | 'running' | 'queued' | 'done' | 'interrupted' | 'cancelled'): Promise<void> {
    const id = await this.openJob(device);
    assert.ok(await transition(this.db as never, id, from as never, to, this.tick()), `job ${id} on ${device} moves to ${to}`);
  }

  /** The device accepts its job: the engine dispatched it, the device's ack makes it running. */
  async start(device: string): Promise<void> {
    await this.move(device, ['queued'], 'dispatched');
    await this.move(device, ['dispatched'], 'running');
  }

  /** The job ends; its lease ends and, if online, the device takes the oldest waiting job it runs, in one transaction. */
  async complete(device: string, agent: string): Promise<void> {
    await this.move(device, OPEN_STATES, 'done');
    const now = this.tick();
    const next = await this.db.transaction().execute(async (trx) => {
      const ended = await endLease(asRegistry(trx), { device, agent, reason: 'job-ended', actor: 'broker', now });
      assert.ok(ended !== null, `the lease of ${device} to ${agent} ends with its job`);
      if (!this.online.has(device)) return null;
      const e = await oldestWaitingFor(asRegistry(trx), LOC, JSON.parse(ended.change.row.caps) as string[]);
      return e !== undefined && (await this.take(trx, e, device, now)) ? e.id : null;
    });
    if (next !== null) this.assignments.push({ device, job: next });
    await this.drain();
  }

  private async endLease(device: string, agent: string): Promise<void> {
    const now = this.tick();
    const ended = await this.reg.db.transaction().execute((trx) => endLease(trx, { device, agent, reason: 'job-ended', actor: 'broker', now }));
    assert.ok(ended !== null, `the lease of ${device} to ${agent} ends with its job`);
  }

  /**
   * The device drops, and the interrupted rule: a running job not safe to repeat ends interrupted
   * and its lease with it; a repeatable one goes back to the device's queue, still leased.
   */
  async drop(device: string, job: { agent: string; kind: Kind; state: Job['state'] } | null): Promise<void> {
    this.online.delete(device);
    if (job === null || job.state !== 'running') return;
    if (REPEATABLE[job.kind]) {
      await this.move(device, ACTIVE_STATES, 'queued');
      return;
    }
    await this.move(device, ACTIVE_STATES, 'interrupted');
    await this.endLease(device, job.agent);
    await this.drain();
  }

  async reconnect(device: string): Promise<void> {
    this.online.add(device);
    await this.drain();
  }

  async cancel(job: string): Promise<boolean> {
    const now = this.tick();
    return this.db.transaction().execute((trx) => decide(asRegistry(trx), job, 'cancelled', now));
  }

  /**
   * An admin releases a held device by force (claims.ts adminRebind): the binding goes, the
   * engine cancels the device's job (UNBOUND), and the pool's sweep closes the lease row left open.
   */
  async forceRelease(device: string, leased: boolean): Promise<void> {
    const change = await rebindDevice(this.reg.db, {
      device,
      to: null,
      actor: 'admin:root',
      reason: 'model',
      force: true,
      now: this.tick(),
      defaultLimit: DEVICE_LIMIT,
    });
    assert.ok(change.changed);
    if (leased) await this.move(device, OPEN_STATES, 'cancelled');
    assert.is(await closeOrphanedLeases(this.reg.db, this.tick()), leased ? 1 : 0, 'the sweep closes the lease row a forced release left open');
    await this.drain();
  }
}

/** What the database says now, in the model's terms. */
async function observe(r: Real): Promise<{
  holder: Map<string, string>;
  via: Map<string, string | null>;
  waiting: string[];
  jobs: Map<string, string>;
  finals: Map<string, number>;
  openLeases: { device: string; job: string }[];
}> {
  const bound = (await devicesAt(r.reg.db, LOC)).filter((d) => d.agent_id !== null);
  const queue = (await waiting(r.reg.db, LOC)).map((e) => e.id);
  const rows = await r.db.selectFrom('jobs').select(['id', 'state', 'device']).execute();
  const finals = await r.db
    .selectFrom('job_events')
    .select(['job', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event', 'in', FINAL_JOB_STATES)
    .groupBy('job')
    .execute();
  const openLeases = await r.reg.db.selectFrom('leases').select(['device', 'job']).where('ended_at', 'is', null).execute();
  return {
    holder: new Map(bound.map((d) => [d.id, d.agent_id!] as [string, string])),
    via: new Map(bound.map((d) => [d.id, d.bound_via] as [string, string | null])),
    waiting: queue,
    jobs: new Map(rows.map((j) => [j.id, `${j.state}@${j.device}`])),
    finals: new Map(finals.map((f) => [f.job, Number(f.n)])),
    openLeases,
  };
}

const MODEL_STATE: Record<Job['state'], string> = {
  waiting: '',
  'on-device': 'queued',
  running: 'running',
  done: 'done',
  interrupted: 'interrupted',
  cancelled: 'cancelled',
};
const ENDED: readonly Job['state'][] = ['done', 'interrupted', 'cancelled'];

async function check(m: Model, r: Real): Promise<void> {
  assert.equal(await leaseProblems(r.reg.db), [], 'at most one holder per device, and it holds the open lease');
  const seen = await observe(r);
  assert.equal([...seen.holder].sort(), [...m.holder].sort(), 'the devices held, and by whom');
  for (const [d, via] of seen.via) assert.is(via === 'lease', isPool(d), `${d} is bound by ${via}: a pool device only by lease, an owned one never`);
  for (const l of seen.openLeases)
    assert.ok(
      /^(queued|dispatched|running)@/.test(seen.jobs.get(l.job) ?? ''),
      `the open lease of ${l.device} has its unfinished job (${seen.jobs.get(l.job)})`,
    );
  assert.equal(
    seen.waiting,
    m.jobs.filter((j) => j.state === 'waiting').map((j) => j.id),
    'the pool queue, in FIFO order',
  );
  for (const j of m.jobs) {
    assert.is(
      seen.finals.get(j.id) ?? 0,
      j.device !== null && ENDED.includes(j.state) ? 1 : 0,
      `job ${j.id} (${j.kind} of ${j.agent}, ${j.state}) ended once or not at all`,
    );
    if (j.state === 'waiting' || j.state === 'cancelled') {
      if (j.device === null) assert.not.ok(seen.jobs.has(j.id), `job ${j.id} never reached a device`);
      continue;
    }
    assert.is(seen.jobs.get(j.id), `${MODEL_STATE[j.state]}@${j.device}`, `job ${j.id} (${j.kind} of ${j.agent})`);
  }
  assert.is(seen.jobs.size, m.jobs.filter((j) => j.device !== null).length, 'no job appeared that nobody submitted');
  assert.is(new Set(r.assignments.map((a) => a.job)).size, r.assignments.length, 'each waiting job was given a device once');
}

/** The model's own drain: the oldest waiting job each free online device can run. */
function drainModel(m: Model): { device: string; job: string }[] {
  const given: { device: string; job: string }[] = [];
  const free = DEVICES.filter((d) => !m.holder.has(d) && m.online.has(d));
  for (const j of m.jobs.filter((x) => x.state === 'waiting')) {
    const i = free.findIndex((d) => CAPS[d]!.includes(j.kind));
    if (i < 0) continue;
    const device = free.splice(i, 1)[0]!;
    j.state = 'on-device';
    j.device = device;
    m.holder.set(device, j.agent);
    given.push({ device, job: j.id });
  }
  return given;
}

const onDevice = (m: Model, d: string): Job | undefined => m.jobs.find((j) => j.device === d && (j.state === 'on-device' || j.state === 'running'));

type Cmd = fc.AsyncCommand<Model, Real>;

/** An agent claims a device: an owned one if free (or already its own), a pool device never. */
class Claim implements Cmd {
  constructor(
    readonly agent: string,
    readonly device: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const h = m.holder.get(this.device);
    const want = isPool(this.device) ? ErrorCode.FORBIDDEN : h === undefined || h === this.agent ? null : ErrorCode.BOUND_TO_OTHER;
    assert.is(await r.claim(this.agent, this.device), want, this.toString());
    if (want === null) m.holder.set(this.device, this.agent);
    await check(m, r);
  }
  toString = () => `claim(${this.agent}, ${this.device})`;
}

/** Only the holder releases, and a lessee cannot release its pool device (its lease ends with its job). */
class Release implements Cmd {
  constructor(
    readonly agent: string,
    readonly device: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const mine = m.holder.get(this.device) === this.agent;
    const want = !mine ? ErrorCode.NOT_BOUND : isPool(this.device) ? ErrorCode.CONFLICT : null;
    assert.is(await r.release(this.agent, this.device), want, this.toString());
    if (want === null) m.holder.delete(this.device);
    await check(m, r);
  }
  toString = () => `release(${this.agent}, ${this.device})`;
}

/** An admin's transfer moves an owned device (free or held) and is refused for a pool device. */
class Transfer implements Cmd {
  constructor(
    readonly device: string,
    readonly to: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const want = isPool(this.device) ? ErrorCode.CONFLICT : null;
    assert.is(await r.transfer(this.device, this.to), want, this.toString());
    if (want === null) m.holder.set(this.device, this.to);
    await check(m, r);
  }
  toString = () => `transfer(${this.device} to ${this.to})`;
}

class Submit implements Cmd {
  constructor(
    readonly agent: string,
    readonly kind: Kind,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const before = r.assignments.length;
    const got = await r.submit(this.agent, this.kind);
    const queueEmpty = !m.jobs.some((j) => j.state === 'waiting');
    const free = DEVICES.filter((d) => !m.holder.has(d) && m.online.has(d) && CAPS[d]!.includes(this.kind));
    const job: Job = { id: got.id, agent: this.agent, kind: this.kind, seq: m.seq++, state: 'waiting', device: null };
    m.jobs.push(job);
    if (queueEmpty && free.length > 0) {
      assert.ok(got.device !== null && free.includes(got.device), `a free capable online device takes the job at once (got ${got.device})`);
      job.state = 'on-device';
      job.device = got.device;
      m.holder.set(got.device, this.agent);
    } else {
      // Behind older jobs no free device runs, it may still go ahead of them to a device that runs it.
      assert.equal(r.assignments.slice(before), drainModel(m), 'the queued job, and only it, may take a free device');
      assert.is(got.device, job.device, 'the job waits unless a free device runs it');
    }
    await check(m, r);
  }
  toString = () => `submit(${this.agent}, ${this.kind})`;
}

/** The device accepts the job it was given. */
class Start implements Cmd {
  constructor(readonly device: string) {}
  check = (m: Readonly<Model>) => onDevice(m as Model, this.device)?.state === 'on-device' && m.online.has(this.device);
  async run(m: Model, r: Real): Promise<void> {
    await r.start(this.device);
    onDevice(m, this.device)!.state = 'running';
    await check(m, r);
  }
  toString = () => `start(${this.device})`;
}

class Complete implements Cmd {
  constructor(readonly device: string) {}
  check = (m: Readonly<Model>) => onDevice(m as Model, this.device) !== undefined && m.online.has(this.device);
  async run(m: Model, r: Real): Promise<void> {
    const j = onDevice(m, this.device)!;
    const before = r.assignments.length;
    await r.complete(this.device, j.agent);
    j.state = 'done';
    m.holder.delete(this.device);
    assert.equal(r.assignments.slice(before), drainModel(m), 'the freed device went to the oldest waiting job it runs');
    await check(m, r);
  }
  toString = () => `complete(${this.device})`;
}

class Drop implements Cmd {
  constructor(readonly device: string) {}
  check = (m: Readonly<Model>) => m.online.has(this.device);
  async run(m: Model, r: Real): Promise<void> {
    const j = onDevice(m, this.device) ?? null;
    const before = r.assignments.length;
    await r.drop(this.device, j);
    m.online.delete(this.device);
    let given: { device: string; job: string }[] = [];
    if (j?.state === 'running' && REPEATABLE[j.kind]) j.state = 'on-device';
    else if (j?.state === 'running') {
      j.state = 'interrupted';
      m.holder.delete(this.device);
      given = drainModel(m);
    }
    assert.equal(r.assignments.slice(before), given, 'an interrupted job frees its device, and offline devices take nothing');
    await check(m, r);
  }
  toString = () => `drop(${this.device})`;
}

class Reconnect implements Cmd {
  constructor(readonly device: string) {}
  check = (m: Readonly<Model>) => !m.online.has(this.device);
  async run(m: Model, r: Real): Promise<void> {
    const before = r.assignments.length;
    await r.reconnect(this.device);
    m.online.add(this.device);
    assert.equal(r.assignments.slice(before), drainModel(m), 'a device back online takes the oldest waiting job it runs');
    await check(m, r);
  }
  toString = () => `reconnect(${this.device})`;
}

class Cancel implements Cmd {
  constructor(readonly nth: number) {}
  check = (m: Readonly<Model>) => m.jobs.some((j) => j.state === 'waiting');
  async run(m: Model, r: Real): Promise<void> {
    const list = m.jobs.filter((j) => j.state === 'waiting');
    const j = list[this.nth % list.length]!;
    assert.ok(await r.cancel(j.id));
    j.state = 'cancelled';
    assert.not.ok(await r.cancel(j.id), 'a cancelled job cannot be cancelled again');
    await check(m, r);
  }
  toString = () => `cancel(waiting #${this.nth})`;
}

class ForceRelease implements Cmd {
  constructor(readonly device: string) {}
  check = (m: Readonly<Model>) => m.holder.has(this.device);
  async run(m: Model, r: Real): Promise<void> {
    const before = r.assignments.length;
    await r.forceRelease(this.device, isPool(this.device));
    const j = onDevice(m, this.device);
    if (j) j.state = 'cancelled';
    m.holder.delete(this.device);
    assert.equal(r.assignments.slice(before), drainModel(m));
    await check(m, r);
  }
  toString = () => `forceRelease(${this.device})`;
}

/** A mode switch is refused while the device is held, and changes nothing; otherwise it goes there and back. */
class ModeSwitch implements Cmd {
  constructor(readonly device: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const [other, mine] = isPool(this.device) ? (['owned', 'pool'] as const) : (['pool', 'owned'] as const);
    const now = r.tick();
    if (m.holder.has(this.device)) {
      const err = await placeDevice(r.reg.db, this.device, { mode: other }, 'admin:root', now).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ProtocolError && err.code === ErrorCode.CONFLICT, `a held device's mode switch is refused (${String(err)})`);
    } else {
      await placeDevice(r.reg.db, this.device, { mode: other }, 'admin:root', now);
      await placeDevice(r.reg.db, this.device, { mode: mine }, 'admin:root', r.tick());
    }
    await check(m, r);
  }
  toString = () => `modeSwitch(${this.device})`;
}

/** A lease of a device leased to another agent, or of an owned device, loses the compare-and-set and writes nothing. */
class Steal implements Cmd {
  constructor(
    readonly device: string,
    readonly agent: string,
  ) {}
  check = (m: Readonly<Model>) => !isPool(this.device) || (m.holder.has(this.device) && m.holder.get(this.device) !== this.agent);
  async run(m: Model, r: Real): Promise<void> {
    const now = r.tick();
    const got = await r.reg.db
      .transaction()
      .execute((trx) => startLease(trx, { lease: randomUUID(), device: this.device, agent: this.agent, location: LOC, job: randomUUID(), route: 'pool', now }));
    assert.is(got, null);
    await check(m, r);
  }
  toString = () => `steal(${this.device}, ${this.agent})`;
}

const device = fc.constantFrom(...DEVICES);
const anyDevice = fc.constantFrom(...ALL);
const agent = fc.constantFrom(...AGENTS);
const commands = [
  fc.tuple(agent, fc.constantFrom(...KINDS)).map(([a, k]) => new Submit(a, k)),
  fc.tuple(agent, fc.constantFrom(...KINDS)).map(([a, k]) => new Submit(a, k)),
  device.map((d) => new Start(d)),
  device.map((d) => new Complete(d)),
  device.map((d) => new Complete(d)),
  anyDevice.map((d) => new Drop(d)),
  anyDevice.map((d) => new Reconnect(d)),
  fc.nat(5).map((n) => new Cancel(n)),
  anyDevice.map((d) => new ForceRelease(d)),
  anyDevice.map((d) => new ModeSwitch(d)),
  fc.tuple(anyDevice, agent).map(([d, a]) => new Steal(d, a)),
  fc.tuple(agent, anyDevice).map(([a, d]) => new Claim(a, d)),
  fc.tuple(agent, anyDevice).map(([a, d]) => new Release(a, d)),
  fc.tuple(anyDevice, agent).map(([d, a]) => new Transfer(d, a)),
];

const s = suite<{ dir?: string; reg?: Registry }>('pools model: claims, leases and the pool queue on the real store', {});
s.before(async (c) => {
  // tmpfs when there is one: each commit's fsync is then cheap, and the file is real SQLite.
  c.dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fleetbind-pools-model-'));
  const reg = (c.reg = await openTestRegistry(join(c.dir, 'registry.db')));
  await createLocation(reg.db, { id: LOC, name: 'Hall' }, 'admin:root', 1);
  for (const a of AGENTS) await createAgent(reg.db, { id: a, name: a, passwordHash: 'x', deviceLimit: null }, 'admin:root', 1);
  for (const a of AGENTS) await setAgentLocations(reg.db, a, [LOC], 'admin:root', 1);
  for (const [i, d] of ALL.entries()) {
    await reg.db.transaction().execute((trx) => provisionDevice(trx, { id: d, mac: `02:00:00:00:00:0${i}`, secretHash: 'x' }, 'admin:root', 1, 'admin'));
    await reg.db
      .updateTable('devices')
      .set({ caps: JSON.stringify(CAPS[d] ?? KINDS) })
      .where('id', '=', d)
      .execute();
    await placeDevice(reg.db, d, { location: LOC, mode: isPool(d) ? 'pool' : 'owned' }, 'admin:root', 1);
  }
});
s.after(async (c) => {
  await c.reg?.close();
  if (c.dir) rmSync(c.dir, { recursive: true, force: true });
});

s(`${RUNS} runs: one holder per device, pool devices only leased, no orphaned lease, FIFO, each job once`, async (c) => {
  const reg = c.reg!;
  const seed = process.env.FLEETBIND_POOLS_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FLEETBIND_POOLS_SEED);
  let steps = 0;
  const replayPath = process.env.FLEETBIND_POOLS_REPLAY;
  const prop = fc.asyncProperty(fc.commands(commands, { maxCommands: 30, ...(replayPath ? { replayPath } : {}) }), async (cmds) => {
    // Each run starts from every device free, online and in its mode, and an empty queue.
    const db = reg.db as unknown as Kysely<JobsDatabase>;
    await db.deleteFrom('job_events').execute();
    await db.deleteFrom('jobs').execute();
    await db.deleteFrom('job_queues').execute();
    await reg.db.deleteFrom('leases').execute();
    await reg.db.deleteFrom('pool_queue').execute();
    await reg.db.updateTable('devices').set({ agent_id: null, bound_at: null, bound_via: null, reserved_by_job: null, location: LOC }).execute();
    await reg.db.updateTable('devices').set({ mode: 'pool' }).where('id', 'in', DEVICES).execute();
    await reg.db.updateTable('devices').set({ mode: 'owned' }).where('id', 'in', OWNED).execute();
    const online = new Set(ALL);
    const model: Model = { jobs: [], online: new Set(ALL), holder: new Map(), seq: 0 };
    const real = new Real(reg, online);
    steps += [...cmds].length;
    await fc.asyncModelRun(() => ({ model, real }), cmds);
  });
  const started = Date.now();
  const out = await fc.check(prop, {
    numRuns: RUNS,
    seed,
    includeErrorInReport: true,
    ...(process.env.FLEETBIND_POOLS_PATH ? { path: process.env.FLEETBIND_POOLS_PATH } : {}),
  });
  if (out.failed) {
    const report = fc.defaultReportMessage(out) ?? 'the property failed';
    const replay = /replayPath="([^"]+)"/.exec(report)?.[1] ?? '';
    throw new Error(
      `pools model failed: seed ${seed}, path ${out.counterexamplePath}\n${report}\nreplay it: FLEETBIND_POOLS_SEED=${seed} FLEETBIND_POOLS_PATH=${out.counterexamplePath} FLEETBIND_POOLS_REPLAY='${replay}' npx tsx test/model/pools-model.test.ts`,
    );
  }
  console.log(`pools model: ${out.numRuns} runs, ${steps} steps, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

s.run();
