// Publishes each walk-up order's state on fb/v1/o/<order> (retained) whenever its machine's queue
// changes (docs/architecture.md, "Walk-up orders"). The payload names only that order and the
// machine's public status, so a customer learns nothing of anyone else's orders. When the order
// ends (done, failed, cancelled, expired, interrupted) its retained message is cleared and the
// ending goes to whoever follows it now: the retained store keeps no topic per finished order.
import type { OrderUpdate } from '../../protocol/orders';
import { orderTopic } from '../../protocol/topics';
import type { Context } from '../context';
import type { BrokerEvents } from '../events';
import { type PublisherContext, clearRetained, publishJson } from '../publisher';
import { getDevice } from '../store/devices';
import type { Orders } from './service';

/** What this module reads of the node's context. */
type UpdatesContext = Pick<Context, 'db' | 'events' | 'log'> & PublisherContext;

type QueueEvent = BrokerEvents['queue'][0];

export function publishOrderUpdates(ctx: UpdatesContext, orders: Orders): () => void {
  const onQueue = (e: QueueEvent): void => {
    const prints = e.jobs.filter((j) => j.kind === 'print');
    const ended = e.ended.filter((j) => j.kind === 'print');
    if (prints.length === 0 && ended.length === 0) return;
    void (async () => {
      const row = await getDevice(ctx.db, e.device);
      if (!row) return;
      const busy = e.jobs.some((j) => j.state !== 'queued');
      const machine = { status: orders.statusOf(row, busy), queueLength: e.jobs.filter((j) => j.state === 'queued').length };
      const sends: Promise<void>[] = [];
      for (const j of prints) {
        const u: OrderUpdate = { order: j.job, state: j.state, position: j.position, eta: j.eta, progress: j.progress ?? null, error: null, machine, at: e.at };
        sends.push(publishJson(ctx, orderTopic(j.job), u, true));
      }
      for (const j of ended) {
        const u: OrderUpdate = {
          order: j.job,
          state: j.state,
          position: null,
          eta: null,
          progress: j.state === 'done' ? 100 : null,
          error: j.error ?? null,
          machine,
          at: j.at,
        };
        sends.push(clearRetained(ctx, orderTopic(j.job)).then(() => publishJson(ctx, orderTopic(j.job), u, false)));
      }
      await Promise.all(sends);
    })().catch((err: unknown) => ctx.log.error({ err, device: e.device }, 'publishing order updates failed'));
  };
  ctx.events.on('queue', onQueue);
  return () => ctx.events.off('queue', onQueue);
}
