// Who an MQTT connection is, decided once at authentication and read on every message.
import type { Client } from 'aedes';

/** `credential` is the key of what the connection authenticated with (live-credentials.ts). */
export type Identity =
  | { kind: 'device'; id: string; conn: number; credential: string }
  | { kind: 'enroll'; mac: string; tokenId: string; conn: number; credential: string }
  | { kind: 'agent'; id: string; conn: number; credential: string; expiresAt: number }
  | { kind: 'admin'; id: string; conn: number; credential: string; expiresAt: number }
  /** A walk-up customer session (docs/architecture.md, "Walk-up orders"); `orders` are the order topics it was let subscribe to. */
  | { kind: 'customer'; id: string; device: string; conn: number; credential: string; expiresAt: number; orders: Set<string> };

const IDENTITY = Symbol('fleetbind.identity');
type Tagged = Client & { [IDENTITY]?: Identity };

export function setIdentity(client: Client, identity: Identity): void {
  (client as Tagged)[IDENTITY] = identity;
}

export function identityOf(client: Client | null | undefined): Identity | undefined {
  return client ? (client as Tagged)[IDENTITY] : undefined;
}

export function describe(i: Identity): string {
  return i.kind === 'enroll' ? `enroll:${i.mac}` : `${i.kind}:${i.id}`;
}
