// A payment QR's text must be one a wallet can read (docs/architecture.md, Jobs: payment payloads).
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { QrShowParams } from '../../protocol/jobs';
import { PAYMENT_TEMPLATES, PLACEHOLDER_PREFIX, checkPaymentText, isPlaceholderPayment } from '../../protocol/payment/templates';
import type { Context } from '../context';

/**
 * The placeholder scheme is refused in production and warned about otherwise; a QR with an amount
 * follows the fleet's template unless it names its own.
 */
export function checkPayment(ctx: Pick<Context, 'opts' | 'log'>, p: QrShowParams): void {
  const { production, paymentTemplate } = ctx.opts;
  if (isPlaceholderPayment(p.text)) {
    const why = `no wallet or bank app can read the placeholder ${PLACEHOLDER_PREFIX}…; use a payment template (${PAYMENT_TEMPLATES.join(', ')})`;
    if (production) throw new ProtocolError(ErrorCode.BAD_PARAMS, `refused in production: ${why}`, 'text');
    ctx.log.warn({ template: paymentTemplate ?? null }, `PLACEHOLDER PAYMENT QR: ${why}. It would be refused in production.`);
  }
  if (p.template === undefined && p.amount !== undefined && paymentTemplate !== undefined) {
    checkPaymentText(paymentTemplate, p.text);
    p.template = paymentTemplate;
  }
}
