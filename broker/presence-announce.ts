// How a presence change leaves the node (docs/architecture.md, Presence). Listeners inside the
// broker hear each change at once. The retained status and the webhook event go out per turn of
// the event loop: a fleet coming back after a power cut changes thousands of devices within a
// few turns, and one write for all of a turn's events and one status publish per device (its
// latest) cost far less than a transaction and a publish for every change.
import type { Status } from '../protocol/messages';
import type { Context } from './context';
import type { PresenceListener } from './presence';
import { type PublisherContext, publishStatus, scheduleBindings } from './publisher';
import { recordEvent } from './webhooks/outbox';
import { STORM_WRITE_PATIENCE_MS } from './store/group-writer';

/** What this module reads of the node's context. */
type PresenceAnnounceContext = Pick<Context, 'bindings' | 'closing' | 'events' | 'log' | 'writer'> & PublisherContext;

export function presenceAnnouncer(ctx: PresenceAnnounceContext): PresenceListener {
  let latest = new Map<string, Status>();
  let events: { device: string; status: Status }[] = [];
  const flush = (): void => {
    const statuses = latest;
    const recorded = events;
    latest = new Map();
    events = [];
    if (ctx.closing) return;
    for (const [device, status] of statuses) {
      publishStatus(ctx, device, status).catch((err: unknown) => ctx.log.error({ err, device }, 'publishing status failed'));
    }
    // Presence lives in memory (Redis in a cluster), not in a registry transaction; exactly one
    // node announces each change, and that node writes its event.
    ctx.writer
      .write(async (trx) => {
        for (const e of recorded) await recordEvent(trx, 'device.presence', { device: e.device, ...e.status }, e.status.since);
      }, STORM_WRITE_PATIENCE_MS)
      .catch((err: unknown) => ctx.log.error({ err, devices: recorded.length }, 'recording presence events failed'));
  };
  return (device, status) => {
    if (ctx.closing) return;
    if (events.length === 0) setImmediate(flush);
    latest.set(device, status);
    events.push({ device, status });
    const agent = ctx.bindings.agentOf(device);
    if (agent !== null) scheduleBindings(ctx, agent);
    ctx.events.emit('presence', device, status);
  };
}
