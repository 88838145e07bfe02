// qr.show: what the job ends with must be true (docs/architecture.md, Jobs). A held payment QR
// ends `done` only when the broker confirms the payment; its expiry fails it EXPIRED ("not
// paid"). A QR that is not held ends `done` with `shown`. Validity counts from display:
// expiresInSeconds runs on the device's timers (its uptime clock), so a QR that waited in the
// queue still gets its full time; an absolute expiresAt already past when the job starts ends it
// EXPIRED without the QR ever reaching the screen.
import type { QrShowParams } from '../../../protocol/jobs';
import type { JobHandler, JobRun } from '../job-handler';
import type { QrView } from '../platform';

/**
 * No QR stays up longer than this. Until SNTP has set it an ESP32's clock reads 1970, which
 * puts any expiresAt decades away; this also keeps the timer far from 32-bit overflow.
 */
export const MAX_QR_MS = 24 * 3600 * 1000;

/** How long the QR may stay up from now, or null when nothing bounds it. */
function validForMs(p: QrShowParams, now: number): number | null {
  const bounds: number[] = [];
  if (p.expiresAt !== undefined) bounds.push(p.expiresAt - now);
  if (p.expiresInSeconds !== undefined) bounds.push(p.expiresInSeconds * 1000);
  return bounds.length === 0 ? null : Math.min(...bounds);
}

export function qrShowHandler(displayMs: number): JobHandler<'qr.show'> {
  return {
    kind: 'qr.show',
    available: () => true,
    start(p: QrShowParams, ctx) {
      const { platform } = ctx;
      const now = platform.now();
      if (p.expiresAt !== undefined && p.expiresAt <= now) {
        ctx.fail('EXPIRED: expiresAt passed before the QR could be shown; it was never shown');
        return { cancel() {} };
      }
      const valid = validForMs(p, now);
      const view: QrView = { text: p.text, caption: p.caption };
      if (p.amount !== undefined) view.amount = p.amount;
      if (p.currency !== undefined) view.currency = p.currency;
      if (valid !== null) view.expiresAt = now + valid;
      platform.display.showQr(view);
      ctx.progress(0);

      const wanted = valid ?? (p.hold ? null : displayMs);
      const endsInMs = wanted === null ? null : Math.min(wanted, MAX_QR_MS);
      const timer =
        endsInMs === null
          ? null
          : platform.setTimer(endsInMs, () => {
              platform.display.clearQr();
              if (p.hold) ctx.fail('EXPIRED: not paid; the QR expired before the payment was confirmed');
              else ctx.done({ shown: true });
            });
      const stopTimer = (): void => {
        if (timer !== null) platform.clearTimer(timer);
      };
      const run: JobRun = {
        cancel() {
          stopTimer();
          platform.display.clearQr();
        },
      };
      // Only a held QR waits for a payment, so only it can be completed as paid.
      if (p.hold === true) {
        run.complete = () => {
          stopTimer();
          platform.display.paid();
          ctx.done({ paid: true });
        };
      }
      return run;
    },
  };
}
