// Walk-up order labels: https://<host>/o/<code>.<sig> (docs/architecture.md, "Walk-up orders").
// Parsing is shared by the broker and the customer page; only the broker checks the signature,
// which is in a signature domain of its own, so an order label never claims and a claim label
// never orders.
import { LABEL_SIG_PATTERN } from './claim-target';
import { ErrorCode, ProtocolError } from './errors';
import { normaliseMachineCode } from './ids';

export interface OrderLabel {
  code: string;
  sig: string;
}

const invalid = (): ProtocolError => new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this order label is not valid', 'label');

/** `CODE.SIG`, `/o/CODE.SIG` or a full order label URL. A claim label (`/c/…`) is not one. */
export function parseOrderLabel(raw: unknown): OrderLabel {
  if (typeof raw !== 'string') throw new ProtocolError(ErrorCode.BAD_REQUEST, 'label must be a string (the order label, CODE.SIG)', 'label');
  const path = raw.trim().split(/[?#]/)[0] ?? '';
  if (path.includes('/c/')) throw new ProtocolError(ErrorCode.WRONG_LABEL, 'this is a claim label; scan the order label on the machine', 'label');
  const at = path.lastIndexOf('/o/');
  if (at < 0 && path.includes('/')) throw invalid();
  const text = at >= 0 ? path.slice(at + 3) : path;
  const dot = text.lastIndexOf('.');
  const sig = text.slice(dot + 1).toLowerCase();
  if (dot <= 0 || !LABEL_SIG_PATTERN.test(sig)) throw invalid();
  try {
    return { code: normaliseMachineCode(text.slice(0, dot), 'label'), sig };
  } catch {
    throw invalid();
  }
}

export function orderLabelPath(code: string, sig: string): string {
  return `/o/${code}.${sig}`;
}
