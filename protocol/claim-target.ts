// What an agent can claim with: a label URL (https://host/c/CODE.SIG), a signed label
// (CODE.SIG), a bare machine code, or a device id. Parsing is shared by the broker and the app;
// only the broker can check a signature.
import { ErrorCode, ProtocolError } from './errors';
import { normaliseMachineCode, tryNormaliseId } from './ids';

export const LABEL_SIG_PATTERN = /^[0-9a-f]{16}$/;

/** A plain name may be a machine code, a device id, or both spellings of one; the broker tries the code first. */
export type ClaimTarget = { kind: 'label'; code: string; sig: string } | { kind: 'plain'; code: string | null; device: string | null };

const BAD_TARGET = 'target must be a machine code, a label or a device id';
const invalidLabel = (): ProtocolError => new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this label is not valid', 'target');

/** CODE.SIG as a label, or null when the text does not end in a signature. */
function signedLabel(text: string): ClaimTarget | null {
  const dot = text.lastIndexOf('.');
  const sig = text.slice(dot + 1).toLowerCase();
  if (dot <= 0 || !LABEL_SIG_PATTERN.test(sig)) return null;
  try {
    return { kind: 'label', code: normaliseMachineCode(text.slice(0, dot), 'target'), sig };
  } catch {
    throw invalidLabel();
  }
}

export function parseClaimTarget(raw: unknown): ClaimTarget {
  // Numbers follow the id rule: String(NaN) or String(1.5) would otherwise pass as names.
  const isIdNumber = typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0;
  if (typeof raw !== 'string' && !isIdNumber) throw new ProtocolError(ErrorCode.BAD_REQUEST, BAD_TARGET, 'target');
  const text = String(raw).trim();
  // Only the URL path names the machine: a query or fragment may itself contain "/c/".
  const path = text.split(/[?#]/)[0] ?? '';
  if (path.includes('/o/')) throw new ProtocolError(ErrorCode.WRONG_LABEL, "this is the machine's walk-up order label; scan its claim label", 'target');
  const at = path.lastIndexOf('/c/');
  if (at >= 0) {
    // A label URL is a label or nothing; a mangled one must not fall back to a plain name.
    const label = signedLabel(path.slice(at + 3));
    if (label === null) throw invalidLabel();
    return label;
  }
  const label = signedLabel(text);
  if (label !== null) return label;
  const device = tryNormaliseId(text);
  let code: string | null = null;
  try {
    code = normaliseMachineCode(text, 'target');
  } catch {
    code = null;
  }
  if (code === null && device === null) throw new ProtocolError(ErrorCode.BAD_REQUEST, BAD_TARGET, 'target');
  return { kind: 'plain', code, device };
}

export function labelPath(code: string, sig: string): string {
  return `/c/${code}.${sig}`;
}
