// What devices and the rest of the broker tell the job system: acks, data streams, hello and
// drops, binding changes, and the passing of time (TTL expiry). Each is one call into the engine;
// a binding change goes to the device's dispatcher first (jobs/lease.ts).
import { ProtocolError } from '../../protocol/errors';
import { type Ack, type Status, parseAck } from '../../protocol/messages';
import { OTA_JOB_PREFIX } from '../../protocol/ota';
import { parseJson } from '../../protocol/validate';
import type { Context } from '../context';
import type { BindingChange } from '../store/bindings';
import type { JobEngine } from './engine';

export class DeviceEvents {
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly ctx: Context,
    private readonly engine: JobEngine,
  ) {}

  start(): void {
    const { events } = this.ctx;
    events.on('hello', (device, profile) => this.engine.onHello(device, profile));
    events.on('presence', (device, status) => this.onPresence(device, status));
    events.on('ack', (device, payload) => this.onAck(device, payload));
    events.on('evt', (device, stream, payload) => this.engine.onEvt(device, stream, payload));
    events.on('binding', (change) => this.onBinding(change));
    this.sweepTimer = setInterval(() => this.sweep(), this.ctx.opts.jobSweepMs);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  private onAck(device: string, payload: Buffer): void {
    let ack: Ack;
    try {
      ack = parseAck(parseJson(payload.toString('utf8')));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.ctx.log.warn({ device, code: err.code, field: err.field, reason: err.message }, 'malformed ack ignored');
      return;
    }
    // Updates answer to their rollout (broker/ota/), not to the job queue.
    if (ack.job.startsWith(OTA_JOB_PREFIX)) return;
    this.engine.onAck(device, ack);
  }

  private onPresence(device: string, status: Status): void {
    if (status.state === 'online') return;
    this.engine.onDisconnect(device, status.reason ?? 'socket');
  }

  private onBinding(change: BindingChange): void {
    if (!change.changed) return;
    this.ctx.lease
      .onHolder(change.device, 'binding', [change], () => this.engine.binding(change))
      .catch((err: unknown) => this.ctx.log.error({ err, device: change.device }, 'job queue step failed: binding change'));
  }

  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    this.engine
      .expireDue(this.ctx.now())
      .catch((err: unknown) => this.ctx.log.error({ err }, 'job expiry sweep failed'))
      .finally(() => (this.sweeping = false));
  }
}
