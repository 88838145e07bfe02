// Why a connection ended, as presence reports it (docs/architecture.md, Presence): the broker marks
// a client before it closes one itself (keepalive, kicked); otherwise the close tells.
import type { Client } from 'aedes';
import type { OfflineReason } from '../protocol/messages';
import { endedWithDisconnect } from './upstream/aedes';

const CLOSE_REASON = Symbol('fleetbind.closeReason');
type Marked = Client & { [CLOSE_REASON]?: OfflineReason };

/** Records why the broker is about to close a connection (keepalive, kicked). */
export function markCloseReason(client: Client, reason: OfflineReason): void {
  (client as Marked)[CLOSE_REASON] = reason;
}

/** Why a connection ended; `closing` is whether the whole node is shutting down. */
export function closeReason(client: Client, closing: boolean): OfflineReason {
  const m = client as Marked;
  if (closing) return 'broker-restart';
  if (m[CLOSE_REASON]) return m[CLOSE_REASON];
  return endedWithDisconnect(client) ? 'clean' : 'socket';
}
