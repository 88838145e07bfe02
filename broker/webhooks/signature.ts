// The signature scheme Stripe and GitHub use: HMAC-SHA256 over "<unix seconds>.<raw body>" with
// the endpoint's secret, sent as `Fleetbind-Signature: t=<seconds>,v1=<hex>`. Receivers check the
// HMAC and that t is recent (README, "Webhooks", has the snippet).
import { createHmac } from 'node:crypto';

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
