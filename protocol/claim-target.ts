// What an agent can claim with: a label URL (https://host/c/CODE.SIG), a signed label
// (CODE.SIG), a bare machine code, or a device id. Parsing is shared by the broker and the app;
// only the broker can check a signature.
import { ErrorCode, ProtocolError } from './errors';
import { normaliseMachineCode, tryNormaliseId } from './ids';

export const LABEL_SIG_PATTERN = /^[0-9a-f]{16}$/;

/** A plain name may be a machine code, a device id, or both spellings of one; the broker tries the code first. */
export type ClaimTarget =
  | { kind: 'label'; code: string; sig: string }
  | { kind: 'plain'; code: string | null; device: string | null };

export function parseClaimTarget(raw: unknown): ClaimTarget {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'target must be a machine code, a label or a device id', 'target');
  }
  let text = String(raw).trim();
  const at = text.lastIndexOf('/c/');
  if (at >= 0) text = text.slice(at + 3).split(/[?#]/)[0] ?? '';
  const dot = text.lastIndexOf('.');
  if (dot > 0) {
    const sig = text.slice(dot + 1).toLowerCase();
    if (LABEL_SIG_PATTERN.test(sig)) {
      try {
        return { kind: 'label', code: normaliseMachineCode(text.slice(0, dot), 'target'), sig };
      } catch {
        throw new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this label is not valid', 'target');
      }
    }
  }
  const device = tryNormaliseId(text);
  let code: string | null = null;
  try {
    code = normaliseMachineCode(text, 'target');
  } catch {
    code = null;
  }
  if (code === null && device === null) {
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'target must be a machine code, a label or a device id', 'target');
  }
  return { kind: 'plain', code, device };
}

export function labelPath(code: string, sig: string): string {
  return `/c/${code}.${sig}`;
}
