// Location labels (docs/architecture.md, Locations and pools): https://host/p/<location>.<sig>
// selects a location's pool for the scanning agent's next job. Parsing is shared by the broker and
// the web app; only the broker can check the signature, which is in its own domain, so no machine
// label works as a location label or the other way round.
import { ErrorCode, ProtocolError } from './errors';
import { tryNormaliseId } from './ids';
import { LABEL_SIG_PATTERN } from './claim-target';

export interface PoolLabel {
  location: string;
  sig: string;
}

const invalid = (): ProtocolError => new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this location label is not valid', 'label');

/** A label URL (…/p/LOC.SIG) or LOC.SIG. */
export function parsePoolLabel(raw: unknown): PoolLabel {
  if (typeof raw !== 'string' || raw.length > 512) throw invalid();
  const path = raw.trim().split(/[?#]/)[0] ?? '';
  const at = path.lastIndexOf('/p/');
  const text = at >= 0 ? path.slice(at + 3) : path;
  const dot = text.lastIndexOf('.');
  const sig = text.slice(dot + 1).toLowerCase();
  const location = dot > 0 ? tryNormaliseId(text.slice(0, dot)) : null;
  if (location === null || !LABEL_SIG_PATTERN.test(sig)) throw invalid();
  return { location, sig };
}

export function poolLabelPath(location: string, sig: string): string {
  return `/p/${location}.${sig}`;
}
