// The drain (docs/architecture.md, Shutdown and overload): accept nothing new, tell every agent its
// devices here are restarting while it can still hear it, let work in flight reach the registry,
// then close.
import type { Context } from '../context';
import type { Jobs } from '../jobs/index';
import type { Machines } from '../machines/index';
import type { Ota } from '../ota/index';
import type { Pools } from '../pools/pools';
import { identityOf } from '../identity';
import { publishStatus } from '../publisher';
import type { Deliverer } from '../webhooks/deliverer';
import type { NodeListeners } from './listeners';
import type { NodeMqtt } from './mqtt';

export interface NodeParts {
  mqtt: NodeMqtt;
  listeners: NodeListeners;
  features: { jobs: Jobs; machines: Machines; ota: Ota; pools: Pools; deliverer: Deliverer; stopOrderUpdates(): void };
  /** Closes the backends and their registry. */
  closeRegistry(): Promise<void>;
}

export async function drain(ctx: Context, parts: NodeParts): Promise<void> {
  const { mqtt, listeners, features } = parts;
  const started = ctx.now();
  listeners.tcp.close();
  listeners.tlsServer?.close();
  ctx.closing = true;
  mqtt.expiry.stop();
  mqtt.compactor.close();
  features.stopOrderUpdates();
  await features.ota.stop();
  await features.pools.stop();
  const restarting = [...mqtt.internals.clients()].map(identityOf).filter((w) => w?.kind === 'device');
  await Promise.all(
    restarting.map((w) =>
      publishStatus(ctx, w!.id, { state: 'reconnecting', conn: w!.conn, since: started, reason: 'broker-restart' }).catch((err: unknown) =>
        ctx.log.error({ err, device: w!.id }, 'publishing broker-restart presence failed'),
      ),
    ),
  );
  await features.jobs.stop();
  features.machines.stop();
  await features.deliverer.stop();
  for (const t of ctx.bindingTimers.values()) clearTimeout(t);
  ctx.presence.stop();
  await new Promise<void>((resolve) => mqtt.aedes.close(() => resolve()));
  for (const ws of listeners.wss.clients) ws.terminate();
  await listeners.http.close();
  // Requests that were under way when their connections closed still commit (or fail) before the registry closes.
  await ctx.writer.idle();
  await parts.closeRegistry();
  ctx.log.info({ devices: restarting.length, ms: ctx.now() - started }, 'stopped');
}
