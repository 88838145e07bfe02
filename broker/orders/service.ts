// Walk-up orders (docs/architecture.md, "Walk-up orders"): a customer session opened by an order
// label places print jobs on its one machine, on behalf of the agent the machine is bound to, and
// sees and cancels only its own. Every refusal happens before anything is written.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseMachineCode } from '../../protocol/ids';
import { parseOrderLabel } from '../../protocol/order-label';
import type { MachinePublic, MachineStatus, OpenedSession, OrderView, SessionState, UploadedDesign } from '../../protocol/orders';
import type { PrintParams } from '../../protocol/jobs';
import type { Context } from '../context';
import { verifyLabel } from '../labels';
import { appendAudit } from '../store/audit';
import type { DeviceRow } from '../store/schema';
import { getDevice, getDeviceByMachineCode } from '../store/devices';
import { jobsDb } from '../jobs/schema';
import { getJob, openJobs } from '../jobs/store';
import { processDesign } from './images';
import { verifyOrderLabel } from './labels';
import { printFormatOf } from './print-formats';
import { type CustomerSession, openSession, useCustomerSession } from './sessions';
import { SessionHourly } from './session-hourly';
import { UploadBytes } from './upload-bytes';

declare module '../context' {
  interface LateParts {
    /** Walk-up orders: customer sessions, uploads, print orders. */
    orders: Orders;
  }
}

/** How long the thumbnail URLs handed to pages stay valid. */
const THUMB_URL_TTL_MS = 60 * 60_000;

const unknownMachine = (): ProtocolError => new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this order label is not valid', 'label');
const noOrder = (id: string): ProtocolError => new ProtocolError(ErrorCode.NOT_FOUND, `no order ${id} in this session`, 'order');

export class Orders {
  /** Upload bytes per hour per session, machine and address (cluster-wide on Redis). */
  readonly uploadBytes: UploadBytes;
  /** Uploads and orders per hour per session, counted once its token is checked. */
  readonly uploadsHourly: SessionHourly;
  readonly ordersHourly: SessionHourly;

  constructor(private readonly ctx: Context) {
    const redis = ctx.backends.commandRedis();
    this.uploadBytes = new UploadBytes(ctx.opts.orders.uploadBytesPerHour, redis);
    this.uploadsHourly = new SessionHourly('uploads', ctx.opts.orders.uploadsPerHour, redis);
    this.ordersHourly = new SessionHourly('orders', ctx.opts.orders.ordersPerHour, redis);
  }

  /** Opens a customer session from a scanned order label. */
  async open(label: unknown): Promise<OpenedSession> {
    const l = parseOrderLabel(label);
    const key = this.ctx.labelKey;
    if (!verifyOrderLabel(key, l.code, l.sig)) {
      // Said apart from a forgery, so the customer knows to look for the other label.
      if (verifyLabel(key, l.code, l.sig))
        throw new ProtocolError(ErrorCode.WRONG_LABEL, 'this is a claim label; scan the order label on the machine', 'label');
      throw unknownMachine();
    }
    const row = await getDeviceByMachineCode(this.ctx.db, l.code);
    if (!row) throw unknownMachine();
    if (Number(row.orders_enabled) !== 1) throw new ProtocolError(ErrorCode.NOT_TAKING_ORDERS, `machine ${l.code} does not take walk-up orders`, 'label');
    const o = this.ctx.opts.orders;
    const s = await openSession(this.ctx.db, row.id, this.ctx.now(), o.sessionIdleMs, o.sessionMaxMs);
    this.ctx.log.info({ session: s.id, device: row.id }, 'customer session opened');
    return { session: s.id, token: s.token, expiresAt: s.expiresAt, idleMs: o.sessionIdleMs, machine: await this.machine(row) };
  }

  /** The session a bearer token opens; `id` is the session the URL names. */
  use(token: string, id?: string): Promise<CustomerSession> {
    return useCustomerSession(this.ctx.db, token, this.ctx.now(), id);
  }

  private async device(s: CustomerSession): Promise<DeviceRow> {
    const row = await getDevice(this.ctx.db, s.device);
    if (!row) throw new ProtocolError(ErrorCode.NOT_TAKING_ORDERS, 'this machine is no longer in service');
    return row;
  }

  async machine(row: DeviceRow): Promise<MachinePublic> {
    const open = await openJobs(jobsDb(this.ctx.db), row.id);
    const busy = open.some((j) => j.state !== 'queued');
    return {
      code: row.machine_code ?? row.id,
      model: row.model,
      status: this.statusOf(row, busy),
      queueLength: open.filter((j) => j.state === 'queued').length,
    };
  }

  statusOf(row: Pick<DeviceRow, 'id' | 'orders_enabled' | 'orders_maintenance'>, busy: boolean): MachineStatus {
    if (Number(row.orders_enabled) !== 1 || this.ctx.bindings.agentOf(row.id) === null) return 'closed';
    if (Number(row.orders_maintenance) === 1) return 'maintenance';
    if (this.ctx.presence.status(row.id).state !== 'online') return 'offline';
    return busy ? 'busy' : 'idle';
  }

  async state(s: CustomerSession): Promise<SessionState> {
    const row = await this.device(s);
    const orders = await this.ctx.db.selectFrom('orders').selectAll().where('session', '=', s.id).orderBy('created_at').execute();
    const views: OrderView[] = [];
    for (const o of orders) views.push(await this.view(o));
    return { session: s.id, expiresAt: s.expiresAt, machine: await this.machine(row), orders: views };
  }

  async view(o: { id: string; device: string; thumb: string; copies: number; created_at: number }): Promise<OrderView> {
    const job = await getJob(jobsDb(this.ctx.db), o.id);
    if (!job) throw noOrder(o.id);
    const v = await this.ctx.jobs.requests.view(job);
    const row = await getDevice(this.ctx.db, o.device);
    return {
      order: o.id,
      machine: row?.machine_code ?? o.device,
      state: v.state,
      position: v.position,
      eta: v.eta,
      progress: v.progress,
      copies: Number(o.copies),
      error: v.error,
      thumb: this.ctx.blobUrls.path(o.thumb, THUMB_URL_TTL_MS, 'png'),
      createdAt: Number(o.created_at),
    };
  }

  /** Makes an upload print-ready for the session's machine and stores it and its thumbnail. */
  async upload(s: CustomerSession, file: Buffer): Promise<UploadedDesign> {
    const row = await this.device(s);
    const o = this.ctx.opts.orders;
    const end = this.ctx.metrics.designProcessing.startTimer();
    const p = await processDesign(file, printFormatOf(row.model), { maxPixels: o.maxPixels, maxRatio: o.maxRatio }).finally(end);
    const design = await this.ctx.blobs.put(p.print, { maxBytes: 4 * o.uploadMaxBytes + p.print.length });
    const thumb = await this.ctx.blobs.put(p.thumb, { maxBytes: p.thumb.length });
    const now = this.ctx.now();
    await this.ctx.db
      .insertInto('designs')
      .values({ sha256: design.sha256, thumb: thumb.sha256, size: design.size, width: p.width, height: p.height, created_at: now })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .execute();
    await this.ctx.db
      .insertInto('session_designs')
      .values({ session: s.id, design: design.sha256, created_at: now })
      .onConflict((oc) => oc.columns(['session', 'design']).doNothing())
      .execute();
    return { design: design.sha256, size: design.size, width: p.width, height: p.height, thumb: this.ctx.blobUrls.path(thumb.sha256, THUMB_URL_TTL_MS, 'png') };
  }

  /** Queues the print on the session's machine, as a job of the agent that holds the machine. */
  async submit(s: CustomerSession, body: { design?: unknown; copies?: unknown; machine?: unknown }): Promise<OrderView> {
    if (body.machine !== undefined) {
      const code = normaliseMachineCode(body.machine, 'machine');
      const row = await getDevice(this.ctx.db, s.device);
      if (code !== (row?.machine_code ?? null))
        throw new ProtocolError(ErrorCode.WRONG_MACHINE, "this order session belongs to another machine; scan this machine's own label", 'machine');
    }
    if (typeof body.design !== 'string') throw new ProtocolError(ErrorCode.BAD_REQUEST, 'design is required (the id an upload answered)', 'design');
    const copies = body.copies ?? 1;
    if (typeof copies !== 'number' || !Number.isInteger(copies) || copies < 1 || copies > 20)
      throw new ProtocolError(ErrorCode.BAD_REQUEST, 'copies is a whole number from 1 to 20', 'copies');
    const owned = await this.ctx.db
      .selectFrom('session_designs')
      .innerJoin('designs', 'designs.sha256', 'session_designs.design')
      .select(['designs.sha256', 'designs.thumb', 'designs.size'])
      .where('session_designs.session', '=', s.id)
      .where('session_designs.design', '=', body.design)
      .executeTakeFirst();
    if (!owned) throw new ProtocolError(ErrorCode.NOT_FOUND, 'no such design uploaded in this session', 'design');
    const row = await this.device(s);
    const status = this.statusOf(row, false);
    if (status === 'maintenance')
      throw new ProtocolError(ErrorCode.NOT_TAKING_ORDERS, 'the machine is in maintenance; it takes no orders right now', 'machine');
    if (status === 'closed') throw new ProtocolError(ErrorCode.NOT_TAKING_ORDERS, 'the machine takes no orders right now', 'machine');
    const agent = this.ctx.bindings.agentOf(row.id)!;
    const params: PrintParams = { design: owned.sha256, size: Number(owned.size), copies, model: row.model ?? 'unknown' };
    const r = await this.ctx.jobs.requests.submit(agent, { device: row.id, kind: 'print', params });
    const now = this.ctx.now();
    const order = { id: r.job, session: s.id, device: row.id, design: owned.sha256, thumb: owned.thumb, copies, created_at: now };
    await this.ctx.db.insertInto('orders').values(order).execute();
    this.ctx.log.info({ order: r.job, session: s.id, device: row.id }, 'order placed');
    return this.view(order);
  }

  private async own(s: CustomerSession, id: string) {
    const o = await this.ctx.db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
    if (!o || o.session !== s.id) throw noOrder(id);
    return o;
  }

  /** A customer withdraws its own order while it still waits; once printing it runs to the end. */
  async cancel(s: CustomerSession, id: string): Promise<OrderView> {
    const o = await this.own(s, id);
    const job = await getJob(jobsDb(this.ctx.db), id);
    if (!job) throw noOrder(id);
    if (job.state !== 'queued') throw new ProtocolError(ErrorCode.CONFLICT, `order ${id} is ${job.state}; only a waiting order can be cancelled`, 'order');
    // On behalf of the job's owner, the machine's agent: the customer may withdraw only its own waiting order.
    await this.ctx.jobs.requests.cancel({ kind: 'agent', id: job.agent }, id);
    return this.view(o);
  }

  /** Every order on the machines the agent holds (all machines for an admin), newest first. */
  async forOperator(who: { kind: 'agent' | 'admin'; id: string }, device?: string): Promise<(OrderView & { device: string; session: string })[]> {
    let q = this.ctx.db.selectFrom('orders').selectAll().orderBy('created_at', 'desc').limit(200);
    if (device !== undefined) q = q.where('device', '=', device);
    const rows = await q.execute();
    const out = [];
    for (const o of rows) {
      if (who.kind === 'agent' && this.ctx.bindings.agentOf(o.device) !== who.id) continue;
      out.push({ ...(await this.view(o)), device: o.device, session: o.session });
    }
    return out;
  }

  /** Admins open or close a machine to orders; its operator (or an admin) puts it in maintenance. Audited. */
  async settings(
    who: { kind: 'agent' | 'admin'; id: string },
    device: string,
    s: { enabled?: unknown; maintenance?: unknown },
  ): Promise<{ device: string; enabled: boolean; maintenance: boolean }> {
    const row = await getDevice(this.ctx.db, device);
    if (!row || (who.kind === 'agent' && this.ctx.bindings.agentOf(device) !== who.id))
      throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${device}`, 'device');
    if (s.enabled !== undefined && typeof s.enabled !== 'boolean') throw new ProtocolError(ErrorCode.BAD_REQUEST, 'enabled is true or false', 'enabled');
    if (s.maintenance !== undefined && typeof s.maintenance !== 'boolean')
      throw new ProtocolError(ErrorCode.BAD_REQUEST, 'maintenance is true or false', 'maintenance');
    if (s.enabled !== undefined && who.kind !== 'admin')
      throw new ProtocolError(ErrorCode.FORBIDDEN, 'only an admin opens or closes a machine to walk-up orders', 'enabled');
    const patch: { orders_enabled?: number; orders_maintenance?: number } = {};
    if (s.enabled !== undefined) patch.orders_enabled = s.enabled ? 1 : 0;
    if (s.maintenance !== undefined) patch.orders_maintenance = s.maintenance ? 1 : 0;
    if (Object.keys(patch).length > 0) {
      await this.ctx.db.transaction().execute(async (trx) => {
        await trx.updateTable('devices').set(patch).where('id', '=', device).execute();
        await appendAudit(trx, {
          at: this.ctx.now(),
          actor: `${who.kind}:${who.id}`,
          action: 'orders.settings',
          device,
          agent: row.agent_id,
          detail: { ...s },
        });
      });
      await this.ctx.jobs.engine.republish(device);
    }
    return this.settingsOf(who, device);
  }

  /** An operator cancels any order on its machine, waiting or printing. Audited. */
  async operatorCancel(who: { kind: 'agent' | 'admin'; id: string }, id: string): Promise<OrderView> {
    const o = await this.ctx.db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
    if (!o || (who.kind === 'agent' && this.ctx.bindings.agentOf(o.device) !== who.id)) throw new ProtocolError(ErrorCode.NOT_FOUND, `no order ${id}`, 'order');
    const job = await getJob(jobsDb(this.ctx.db), id);
    if (!job) throw new ProtocolError(ErrorCode.NOT_FOUND, `no order ${id}`, 'order');
    await this.ctx.jobs.requests.cancel(who.kind === 'admin' ? who : { kind: 'agent', id: job.agent }, id);
    await appendAudit(this.ctx.db, {
      at: this.ctx.now(),
      actor: `${who.kind}:${who.id}`,
      action: 'order.cancel',
      device: o.device,
      agent: job.agent,
      detail: { order: id, session: o.session },
    });
    return this.view(o);
  }

  /** An operator moves a waiting order to another place in its machine's queue (audited job.move). */
  async operatorMove(who: { kind: 'agent' | 'admin'; id: string }, id: string, position: unknown): Promise<OrderView> {
    const o = await this.ctx.db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
    if (!o || (who.kind === 'agent' && this.ctx.bindings.agentOf(o.device) !== who.id)) throw new ProtocolError(ErrorCode.NOT_FOUND, `no order ${id}`, 'order');
    if (typeof position !== 'number') throw new ProtocolError(ErrorCode.BAD_REQUEST, 'position is a whole number (1 = next to print)', 'position');
    const job = await getJob(jobsDb(this.ctx.db), id);
    if (!job) throw new ProtocolError(ErrorCode.NOT_FOUND, `no order ${id}`, 'order');
    await this.ctx.jobs.requests.move(who.kind === 'admin' ? who : { kind: 'agent', id: job.agent }, id, position);
    return this.view(o);
  }

  /** Whether a machine takes orders and is in maintenance, for its operator or an admin. */
  async settingsOf(who: { kind: 'agent' | 'admin'; id: string }, device: string): Promise<{ device: string; enabled: boolean; maintenance: boolean }> {
    const row = await getDevice(this.ctx.db, device);
    if (!row || (who.kind === 'agent' && this.ctx.bindings.agentOf(device) !== who.id))
      throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${device}`, 'device');
    return { device, enabled: Number(row.orders_enabled) === 1, maintenance: Number(row.orders_maintenance) === 1 };
  }
}
