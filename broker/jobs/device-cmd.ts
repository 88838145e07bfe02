// What the broker sends a device about a job: its cmd (again with attempt+1 until `accepted`),
// and the cancel or complete flag on it; resends wait with doubling backoff (docs/architecture.md,
// Jobs).
import type { Cmd } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { withFetchUrl } from '../orders/fetch-url';
import { publishJson } from '../publisher';
import type { Active, DeviceQueue } from './device-queue';
import type { JobCore } from './job-core';

/** Resend delays grow from the ack timeout by doubling, up to this multiple of it. */
const MAX_BACKOFF_FACTOR = 8;

export class DeviceCmd {
  constructor(private readonly core: JobCore) {}

  /** How long the send-th send waits for its ack. */
  backoff(sends: number): number {
    const base = this.core.ctx.opts.jobAckTimeoutMs;
    return Math.min(base * 2 ** (sends - 1), base * MAX_BACKOFF_FACTOR);
  }

  /** A stopping engine arms no new timers: nothing may run against a closed registry. */
  arm(a: Active, ms: number, fn: () => void): void {
    if (this.core.stopped) return;
    a.timer = setTimeout(fn, ms);
    a.timer.unref();
  }

  publish(q: DeviceQueue, a: Active, extra: Partial<Cmd> = {}): void {
    const { ctx } = this.core;
    const cmd: Cmd = {
      job: a.id,
      kind: a.kind,
      params: a.kind === 'print' ? withFetchUrl(ctx, a.params) : a.params,
      attempt: a.attempt,
      deadline: a.deadline,
      ...extra,
    };
    publishJson(ctx, deviceTopic(q.id, 'cmd'), cmd).catch((err: unknown) => ctx.log.error({ err, device: q.id, job: a.id }, 'publishing cmd failed'));
  }
}
