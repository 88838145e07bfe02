// The release public keys this broker accepts firmware signatures from (--release-public-keys).
// The broker holds public keys only: the private key that signs releases never reaches it
// (docs/architecture.md, Over-the-air updates).
import { verify, type KeyObject } from 'node:crypto';
import { publicKeyFromBase64 } from '../../host-tools/release/keys';

export class ReleaseKeys {
  private readonly keys: KeyObject[];

  constructor(base64Keys: readonly string[]) {
    this.keys = base64Keys.map(publicKeyFromBase64);
  }

  get count(): number {
    return this.keys.length;
  }

  /** True when one of the keys signed exactly this manifest text. */
  verifies(manifestText: string, sigBase64: string): boolean {
    const sig = Buffer.from(sigBase64, 'base64');
    if (sig.length !== 64) return false;
    const message = Buffer.from(manifestText, 'utf8');
    return this.keys.some((key) => verify(null, message, key, sig));
  }
}
