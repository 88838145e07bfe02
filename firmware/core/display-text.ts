// The words every display shows (screen, log, simulator terminal), so they all say the same
// thing. Portable: no Moddable or Node imports.
import { captionText } from '../../protocol/screen-fit';
import type { QrView } from './platform';

/** Blink, flash or beep for the given seconds so someone can find the device; 0 stops. */
export interface Identify {
  identify(seconds: number): void;
}

export function agentLine(name: string | null, claimCode?: string): string {
  if (name !== null) return `Agent: ${name}`;
  return claimCode ? `Claim code: ${claimCode}` : 'Not claimed';
}

/** What the broker refused in the hello: the field when it names one, and its error code. */
export function refusalLine(error: { code: string; field?: string }): string {
  return `Refused ${error.field ?? 'hello'}: ${error.code}`;
}

/** The caption and amount under a QR, with the currency's sign (the broker judges its length with the same words). */
export function captionLine(view: QrView): string {
  return captionText(view.caption, view.amount, view.currency);
}

/** "Expires in 4:05", "Expired", or "" when the QR has no expiry. */
export function countdownLine(view: QrView, now: number): string {
  if (view.expiresAt === undefined) return '';
  const left = Math.ceil((view.expiresAt - now) / 1000);
  if (left <= 0) return 'Expired';
  const seconds = left % 60;
  return `Expires in ${Math.floor(left / 60)}:${seconds < 10 ? '0' : ''}${seconds}`;
}
