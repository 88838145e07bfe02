// qr.show: the QR stays up until expiresAt, cancel, or (for a held payment QR) the broker's
// completion. A QR that is neither held nor given an expiry is shown for displayMs.
import type { QrShowParams } from '../../../protocol/jobs';
import type { JobHandler } from '../job-handler';
import type { QrView } from '../platform';

/**
 * No QR stays up longer than this. Until SNTP has set it an ESP32's clock reads 1970, which
 * puts any expiresAt decades away; this also keeps the timer far from 32-bit overflow.
 */
export const MAX_QR_MS = 24 * 3600 * 1000;

export function qrShowHandler(displayMs: number): JobHandler<'qr.show'> {
  return {
    kind: 'qr.show',
    available: () => true,
    start(p: QrShowParams, ctx) {
      const { platform } = ctx;
      const now = platform.now();
      if (p.expiresAt !== undefined && p.expiresAt <= now) {
        ctx.fail('EXPIRED: expiresAt is already past');
        return { cancel() {} };
      }
      const view: QrView = { text: p.text, caption: p.caption };
      if (p.amount !== undefined) view.amount = p.amount;
      if (p.currency !== undefined) view.currency = p.currency;
      if (p.expiresAt !== undefined) view.expiresAt = p.expiresAt;
      platform.display.showQr(view);
      ctx.progress(0);

      const wanted = p.expiresAt !== undefined ? p.expiresAt - now : p.hold ? null : displayMs;
      const endsInMs = wanted === null ? null : Math.min(wanted, MAX_QR_MS);
      const timer =
        endsInMs === null
          ? null
          : platform.setTimer(endsInMs, () => {
              platform.display.clearQr();
              if (p.hold) ctx.fail('EXPIRED: not paid before expiresAt');
              else ctx.done({ shown: true });
            });
      const stopTimer = (): void => {
        if (timer !== null) platform.clearTimer(timer);
      };
      return {
        cancel() {
          stopTimer();
          platform.display.clearQr();
        },
        complete() {
          stopTimer();
          platform.display.paid();
          ctx.done({ paid: true });
        },
      };
    },
  };
}
