// A rollout's daily send window (docs/architecture.md, Over-the-air updates): new commands go out
// only while the wall clock of the window's time zone is inside it; tries in flight, acks, soak
// and wave ends carry on outside it.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { RolloutWindow } from '../../protocol/ota';

function clock(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

/** Refuses a time zone this runtime does not know, before anything is stored. */
export function checkWindow(w: RolloutWindow): void {
  try {
    clock(w.timeZone);
  } catch {
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `window timeZone ${w.timeZone.slice(0, 64)} is not an IANA time zone`, 'window');
  }
}

/** True when `at` (ms since the epoch) is inside the window: start included, end excluded; an end before the start runs past midnight. */
export function inWindow(w: RolloutWindow, at: number): boolean {
  const parts = clock(w.timeZone).formatToParts(at);
  const now = `${parts.find((p) => p.type === 'hour')!.value}:${parts.find((p) => p.type === 'minute')!.value}`;
  return w.start < w.end ? w.start <= now && now < w.end : now >= w.start || now < w.end;
}
