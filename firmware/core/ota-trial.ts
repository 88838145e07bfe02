// After an update the device restarts into the new image on trial (docs/architecture.md,
// Over-the-air updates). The new image marks itself valid only once it has reached the broker
// as itself; if it cannot within the trial time it gives up, and the bootloader brings the old
// image back. Whichever image then connects says what happened, once, in its hello: the new one
// `confirmed`, the old one `rolled-back` with the reason.
import { compareVersions, type OtaReport } from '../../protocol/ota';
import { readPending, writePending, type PendingUpdate } from './ota-pending';
import type { Platform, TimerHandle } from './platform';

/** The trial time as the reason gives it: seconds, or milliseconds for a trial under one (a test's). */
function trialTime(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Math.round(ms / 1_000)} s`;
}

export class OtaTrial {
  private pending: PendingUpdate | null = null;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly trialMs: number,
  ) {}

  /** At boot: starts the trial clock when this image is the new one, still unconfirmed. */
  boot(): void {
    const pending = readPending(this.platform.prefs);
    this.pending = pending;
    if (pending === null || pending.version !== this.platform.facts.fw) return;
    const ota = this.platform.ota;
    if (ota === undefined || !ota.onTrial()) return;
    this.platform.log('info', 'running a new image on trial', { version: pending.version, trialMs: this.trialMs });
    this.timer = this.platform.setTimer(this.trialMs, () => {
      this.timer = null;
      const reason = `the new image did not reach the broker within ${trialTime(this.trialMs)}`;
      this.platform.log('error', 'giving up on the new image; rolling back', { version: pending.version, reason });
      writePending(this.platform.prefs, { ...pending, reason });
      ota.rollback();
    });
  }

  /** The device reached the broker: confirms an image on trial. Returns what hello should report. */
  reached(): OtaReport | null {
    const pending = this.pending;
    if (pending === null) return null;
    if (pending.version !== this.platform.facts.fw) {
      return { job: pending.job, version: pending.version, outcome: 'rolled-back', reason: pending.reason ?? 'the new image did not start' };
    }
    if (this.timer !== null) {
      this.platform.clearTimer(this.timer);
      this.timer = null;
    }
    const ota = this.platform.ota;
    if (ota?.onTrial()) ota.markValid();
    const floor = this.platform.prefs.get('otafloor');
    if (pending.floor !== undefined && (floor === undefined || compareVersions(pending.floor, floor) > 0)) this.platform.prefs.set('otafloor', pending.floor);
    return { job: pending.job, version: pending.version, outcome: 'confirmed' };
  }

  /** The report went out: it is never sent again. */
  reported(): void {
    if (this.pending === null) return;
    this.pending = null;
    this.platform.prefs.remove('ota');
  }
}
