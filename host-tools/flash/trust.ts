// How a flashed device trusts its broker: the CA certificate (PEM) the broker's certificate must
// chain to, or plain MQTT allowed out loud. Checked the same way by `npm run flash` (--ca,
// --insecure) and the web Flash page; runs in the browser too.
import { pemCertificate } from '../../firmware/core/transport';

export type Trust = { ca: string } | { insecure: true };

/** NVS strings hold at most this much; a CA certificate alone fits. */
export const MAX_CA_BYTES = 4000;

export type TrustProblem = 'ca-and-insecure' | 'ca-on-plain' | 'plain-not-allowed' | 'no-ca' | 'not-pem' | 'ca-too-big';

export function isSecureBroker(broker: string): boolean {
  return broker.startsWith('mqtts:') || broker.startsWith('wss:');
}

/** The trust for this broker, or what is wrong with what was given. */
export function checkTrust(broker: string, pem: string | undefined, insecure: boolean): Trust | TrustProblem {
  if (pem !== undefined && insecure) return 'ca-and-insecure';
  if (!isSecureBroker(broker)) {
    if (pem !== undefined) return 'ca-on-plain';
    return insecure ? { insecure: true } : 'plain-not-allowed';
  }
  if (pem === undefined) return 'no-ca';
  if (pemCertificate(pem) === null) return 'not-pem';
  if (new TextEncoder().encode(pem).length > MAX_CA_BYTES) return 'ca-too-big';
  return { ca: pem };
}
