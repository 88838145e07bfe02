// How the device reaches the broker. Device secrets, enrollment tokens and payment QRs cross
// this connection, so it is TLS to a server that chains to the CA certificate provisioned in
// NVS (pref `ca`, PEM); plain mqtt:// only when NVS says `insecure=1` explicitly
// (docs/architecture.md, Firmware).
import { decodeBase64 } from './base64';
import type { BrokerAddress } from './broker-address';

export type Transport = { secure: false } | { secure: true; ca: Uint8Array };

const PEM = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/** The DER bytes of the first certificate in a PEM text, or null when there is none. */
export function pemCertificate(text: string): Uint8Array | null {
  const m = PEM.exec(text);
  if (!m) return null;
  try {
    const der = decodeBase64(m[1]!.replace(/\s+/g, ''));
    // Every X.509 certificate is a DER SEQUENCE.
    return der.length > 0 && der[0] === 0x30 ? der : null;
  } catch {
    return null;
  }
}

/** The transport the preferences allow for this broker, or why there is none. */
export function chooseTransport(broker: BrokerAddress, ca: string | undefined, insecure: string | undefined): Transport | string {
  if (broker.secure) {
    if (!ca) return 'mqtts:// needs the broker CA certificate (pref ca)';
    const der = pemCertificate(ca);
    return der === null ? 'pref ca is not a PEM certificate' : { secure: true, ca: der };
  }
  if (insecure === '1') return { secure: false };
  return 'plain mqtt:// would send the device secret in clear; use mqtts:// with pref ca, or set insecure=1';
}
