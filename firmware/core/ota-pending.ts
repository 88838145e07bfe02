// The update in flight across a restart, kept in preferences (key `ota`): written just before
// the device restarts into a new image, read by whichever image boots next to tell the broker
// what happened (docs/architecture.md, Over-the-air updates).
import { isVersion } from '../../protocol/ota';
import type { Prefs } from './platform';

export interface PendingUpdate {
  /** The rollout's cmd id, echoed in the report. */
  job: string;
  version: string;
  /** The version that installed it, to which a rollback returns. */
  from: string;
  /** The release's minVersion, which becomes the device's floor once the new image is confirmed. */
  floor?: string;
  /** Set by the new image before it gives up, so the old one can say why. */
  reason?: string;
}

export function readPending(prefs: Prefs): PendingUpdate | null {
  const raw = prefs.get('ota');
  if (raw === undefined) return null;
  try {
    const v = JSON.parse(raw) as Partial<PendingUpdate>;
    if (typeof v.job !== 'string' || typeof v.version !== 'string' || !isVersion(v.version) || typeof v.from !== 'string') return null;
    const p: PendingUpdate = { job: v.job, version: v.version, from: v.from };
    if (typeof v.floor === 'string' && isVersion(v.floor)) p.floor = v.floor;
    if (typeof v.reason === 'string') p.reason = v.reason.slice(0, 200);
    return p;
  } catch {
    return null;
  }
}

export function writePending(prefs: Prefs, pending: PendingUpdate): void {
  prefs.set('ota', JSON.stringify(pending));
}
