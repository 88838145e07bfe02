// Live MQTT connections indexed by the credential they authenticated with, so that when a
// credential dies (re-provisioned or deleted device, logout, expired session, changed password,
// disabled agent) every connection that used it is closed (docs/architecture.md, Identities).
import type { Client } from 'aedes';
import { tokenHash } from './auth/secrets';

/** Keys name a credential without revealing it: hashes only, never a secret or a token. */
export const credentialKey = {
  /** One generation of a device's secret: a new stored hash is a new generation. */
  deviceSecret: (device: string, secretHash: string): string => `device:${device}:${tokenHash(secretHash).slice(0, 32)}`,
  session: (sessionTokenHash: string): string => `session:${sessionTokenHash}`,
  sessionHashOf: (key: string): string | null => (key.startsWith('session:') ? key.slice(8) : null),
  adminToken: 'admin-token',
  /** A token from the operator's identity provider; it ends at its own expiry (auth/jwt-agent.ts). */
  identityToken: (hash: string): string => `idp-token:${hash}`,
  enrollmentToken: (tokenId: string): string => `enroll-token:${tokenId}`,
  customerSession: (sessionId: string): string => `customer:${sessionId}`,
};

/** How long a revoked key is remembered, so a connection that was authenticating meanwhile is closed too. */
const REMEMBER_REVOKED_MS = 60_000;

export class LiveCredentials {
  private readonly byKey = new Map<string, Set<Client>>();
  private readonly revoked = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns false when the credential was revoked while this connection was authenticating. */
  add(key: string, client: Client): boolean {
    const at = this.revoked.get(key);
    if (at !== undefined && this.now() - at < REMEMBER_REVOKED_MS) return false;
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(client);
    return true;
  }

  remove(key: string, client: Client): void {
    const set = this.byKey.get(key);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.byKey.delete(key);
  }

  /** Marks the credential dead and returns the connections that used it (the caller closes them). */
  revoke(key: string): Client[] {
    const now = this.now();
    this.revoked.delete(key);
    this.revoked.set(key, now);
    for (const [k, at] of this.revoked) {
      if (now - at < REMEMBER_REVOKED_MS) break;
      this.revoked.delete(k);
    }
    const set = this.byKey.get(key);
    this.byKey.delete(key);
    return set ? [...set] : [];
  }

  isLive(key: string): boolean {
    return this.byKey.has(key);
  }
}
