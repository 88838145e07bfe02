// The device's credentials as NVS entries (docs/architecture.md, Firmware): the Moddable Preference
// domain `fb` is NVS namespace `fb`, every value a string. Unset fields are left out, so the firmware sees them absent.
import type { NvsEntry } from './format';

export const CREDENTIALS_NAMESPACE = 'fb';

export interface Credentials {
  ssid?: string;
  psk?: string;
  broker?: string;
  id?: string;
  secret?: string;
  enroll?: string;
  machine?: string;
  /** PEM of the CA the broker's certificate must chain to. */
  ca?: string;
  /** '1' allows plain mqtt://. */
  insecure?: string;
  /** Release public keys the device trusts for updates: base64 of 32 bytes each, comma-separated. */
  otakey?: string;
}

/** Written in this order, which is also the order of the reference images in test/fixtures/nvs. */
const KEYS = ['ssid', 'psk', 'broker', 'id', 'secret', 'enroll', 'machine', 'ca', 'insecure', 'otakey'] as const;

export function credentialEntries(c: Credentials): NvsEntry[] {
  return KEYS.filter((k) => c[k] !== undefined).map((key) => ({
    namespace: CREDENTIALS_NAMESPACE,
    key,
    type: 'string',
    value: c[key]!,
  }));
}
