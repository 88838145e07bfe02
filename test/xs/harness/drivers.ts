// One interface over the two engines, so the same scenario code runs the core on Node
// (in-process) and inside the real XS engine (xsnap-worker, bridged over
// issueCommand/handleCommand).
import { ScriptedHost } from './scripted-host';
import { bundleForXs, type BundleOptions } from './bundle';
import { XsnapWorker } from './xsnap-worker';
import type { HarnessEvent, PlatformCall, StatsReply } from './wire';

export type Engine = 'node' | 'xs';

export interface CoreDriver {
  readonly engine: Engine;
  /** Every platform call so far, in order. */
  readonly calls: PlatformCall[];
  send(event: HarnessEvent): Promise<StatsReply | null>;
  close(): Promise<void>;
}

export interface XsCoreDriver extends CoreDriver {
  /** Collects garbage inside XS and returns the heap slots still in use. */
  heapAfterGc(): Promise<number>;
  /** Heap slots in use after the last command, garbage included (no collection). */
  heapNow(): number;
}

/** JSON round trip, so the Node engine sees exactly what crosses the XS bridge. */
const wireCopy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export function nodeDriver(): CoreDriver {
  const calls: PlatformCall[] = [];
  const host = new ScriptedHost((call) => calls.push(wireCopy(call)));
  return {
    engine: 'node',
    calls,
    send: async (event) => wireCopy(host.handle(wireCopy(event))),
    close: async () => undefined,
  };
}

export async function xsDriver(bundle?: BundleOptions): Promise<XsCoreDriver> {
  const code = await bundleForXs(bundle);
  const calls: PlatformCall[] = [];
  const decoder = new TextDecoder();
  const worker = new XsnapWorker('fleetbind-core', (message) => {
    calls.push(JSON.parse(decoder.decode(message)) as PlatformCall);
    return new Uint8Array();
  });
  await worker.evaluate(code);
  return {
    engine: 'xs',
    calls,
    send: async (event) => {
      const reply = await worker.command(new TextEncoder().encode(JSON.stringify(event)));
      return JSON.parse(decoder.decode(reply)) as StatsReply | null;
    },
    close: () => worker.close(),
    heapNow: () => worker.heapCount,
    heapAfterGc: async () => {
      await worker.evaluate('gc()');
      return worker.heapCount;
    },
  };
}

export function makeDriver(engine: Engine, bundle?: BundleOptions): Promise<CoreDriver> {
  return engine === 'xs' ? xsDriver(bundle) : Promise.resolve(nodeDriver());
}
