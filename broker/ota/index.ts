// Wires firmware updates into a broker node (docs/architecture.md, Over-the-air updates): the
// configured release keys, the rollout engine and its metrics.
import type { Context } from '../context';
import { RolloutEngine } from './engine';
import { OtaMetrics } from './metrics';
import { ReleaseKeys } from './release-keys';
import { LOCAL_NODE } from './rollouts';

declare module '../context' {
  interface LateParts {
    /** Firmware releases and rollouts (startOta). */
    ota: Ota;
  }
}

export interface Ota {
  keys: ReleaseKeys;
  engine: RolloutEngine;
  stop(): Promise<void>;
}

export function startOta(ctx: Context): Ota {
  const keys = new ReleaseKeys(ctx.opts.releasePublicKeys);
  const engine = new RolloutEngine(ctx, ctx.backends.nodeId ?? LOCAL_NODE, new OtaMetrics(ctx.metrics.registry, ctx.db));
  engine.start();
  if (keys.count === 0) ctx.log.info('no release public key configured (--release-public-keys): firmware release uploads are refused');
  const ota: Ota = { keys, engine, stop: () => engine.stop() };
  ctx.ota = ota;
  return ota;
}
