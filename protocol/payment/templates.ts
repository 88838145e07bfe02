// Payment payload templates for qr.show (docs/architecture.md, Jobs): what a wallet or bank app
// can read. Chosen per fleet (the broker's --payment-template) or per job (params.template); the
// broker, the firmware and the web app all validate with this module.
import { ErrorCode, ProtocolError } from '../errors';
import { parseEmvco } from './emvco';
import { parseEpc } from './epc';

export const PAYMENT_TEMPLATES = ['emvco', 'epc', 'link'] as const;
export type PaymentTemplate = (typeof PAYMENT_TEMPLATES)[number];

export const PAYMENT_TEMPLATE_NAMES: Record<PaymentTemplate, string> = {
  emvco: 'EMVCo merchant QR (PIX, UPI, PayNow, PromptPay, …)',
  epc: 'SEPA credit transfer (EPC QR)',
  link: 'Payment link (https URL)',
};

/** The old default text no wallet can read; refused in production (docs/architecture.md, Jobs). */
export const PLACEHOLDER_PREFIX = 'fleetbind:pay?';

export function isPaymentTemplate(v: unknown): v is PaymentTemplate {
  return typeof v === 'string' && (PAYMENT_TEMPLATES as readonly string[]).includes(v);
}

export function isPlaceholderPayment(text: string): boolean {
  return text.startsWith(PLACEHOLDER_PREFIX);
}

const LINK = /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[^\s]*)?$/;

/** Throws BAD_PARAMS (field "text") naming what the text breaks of its template's specification. */
export function checkPaymentText(template: PaymentTemplate, text: string): void {
  if (template === 'emvco') parseEmvco(text);
  else if (template === 'epc') parseEpc(text);
  else if (!LINK.test(text)) throw new ProtocolError(ErrorCode.BAD_PARAMS, 'payment link: it must be an https:// URL without spaces', 'text');
}
