// A node's context exists from its first phase on, because the parts built later (MQTT, the job
// system, the features on it) and the parts they call into reach one another through it. Until its
// start step provides it, a later part is missing out loud: used too early, it throws with its
// name instead of reading undefined somewhere downstream; provided twice, it throws too
// (docs/architecture.md, How a node starts).
import type { Context, CoreContext, LatePart } from '../context';

// A record, so the compiler insists on every late part.
const LATE_PARTS: Record<LatePart, true> = { aedes: true, presence: true, kick: true, jobs: true, machines: true, ota: true, pools: true, orders: true };

export function withLateParts(core: CoreContext): Context {
  const slots: Partial<Pick<Context, LatePart>> = {};
  for (const part of Object.keys(LATE_PARTS) as LatePart[]) {
    Object.defineProperty(core, part, {
      enumerable: true,
      get() {
        const value = slots[part];
        if (value === undefined) throw new Error(`the broker's ${part} was used before its start step provided it`);
        return value;
      },
      set(value: Context[LatePart]) {
        if (slots[part] !== undefined) throw new Error(`the broker's ${part} was provided twice`);
        (slots as Record<LatePart, unknown>)[part] = value;
      },
    });
  }
  // Every late part is now defined on the object: as its value once provided, as the error before.
  return core as Context;
}
