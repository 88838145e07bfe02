// Aedes keeps its message emitter (`mq`) and its connected clients (`clients`, by client id) as
// undocumented properties, with no public API for either: enumerating clients is left to the
// application (moscajs/aedes#350, closed "implement this yourself"). The broker needs the emitter
// to guard its queue drain (mq-guard.ts) and the clients to close an identity's connections
// (kick). Both are checked once, when the broker starts, so a changed upstream fails there.
import type { Aedes, Client } from 'aedes';

export interface AedesInternals {
  /** The broker's MQEmitter (or mqemitter-redis in a cluster). */
  readonly mq: object;
  /** The clients connected to this node now. */
  clients(): Client[];
}

export function aedesInternals(aedes: Aedes): AedesInternals {
  const raw = aedes as unknown as { mq?: { on?: unknown; emit?: unknown }; clients?: Record<string, Client> };
  const mq = raw.mq;
  if (typeof mq?.on !== 'function' || typeof mq.emit !== 'function' || typeof raw.clients !== 'object' || raw.clients === null) {
    throw new Error('aedes internals changed (mq, clients): review broker/upstream/aedes.ts against the installed version');
  }
  return { mq, clients: () => Object.values(raw.clients!) };
}

/**
 * Whether the client ended with an MQTT DISCONNECT rather than a dropped socket. Aedes records it
 * only in its private `_disconnected` (it uses it to skip the will); no event or public flag says
 * so. upstream-checks.test.ts proves the installed version still sets it.
 */
export function endedWithDisconnect(client: Client): boolean {
  return (client as Client & { _disconnected?: unknown })._disconnected === true;
}
