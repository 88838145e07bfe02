// Device data streamed while a job runs, stored with the job (docs/architecture.md, Jobs: a
// device event belongs to at most one job), bounded per job run.
import { eventJob } from '../../protocol/messages';
import type { DeviceQueue } from './device-queue';
import type { JobCore } from './job-core';
import { addData, addEvent } from './store';

/** Device data kept per job run; beyond it, data is dropped and the history says so. */
export const JOB_DATA_MAX_ROWS = 10_000;
export const JOB_DATA_MAX_BYTES = 4 * 1024 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function encodePayload(payload: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  try {
    return { text: UTF8.decode(payload), encoding: 'utf8' };
  } catch {
    return { text: payload.toString('base64'), encoding: 'base64' };
  }
}

export class JobData {
  constructor(private readonly core: JobCore) {}

  /**
   * Files an event under the running job it names, or else the only running job, of the holder as
   * the event arrived; the write is not waited for, so the device's order never waits on it.
   */
  file(q: DeviceQueue, holder: string | null, now: number, stream: string, payload: Buffer): void {
    const running = [...q.active.values()].filter((a) => a.state === 'running' && a.agent === holder && a.control?.type !== 'cancel');
    const { text, encoding } = encodePayload(payload);
    const named = encoding === 'utf8' ? eventJob(text) : null;
    const a = named !== null ? running.find((r) => r.id === named) : running.length === 1 ? running[0] : undefined;
    if (!a) return;
    const failed = (what: string) => (err: unknown) => this.core.ctx.log.error({ err, job: a.id, stream }, what);
    const d = a.data;
    if (d.rows >= JOB_DATA_MAX_ROWS || d.bytes + text.length > JOB_DATA_MAX_BYTES) {
      if (!d.truncated) {
        d.truncated = true;
        this.core.write((trx) => addEvent(trx, a.id, now, 'data-truncated', { rows: d.rows, bytes: d.bytes })).catch(failed('recording truncation failed'));
      }
      return;
    }
    d.rows++;
    d.bytes += text.length;
    this.core.write((trx) => addData(trx, a.id, now, stream, text, encoding)).catch(failed('storing device data failed'));
  }
}
