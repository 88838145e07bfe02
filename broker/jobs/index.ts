// Wires the job system into a broker node: recovery after a restart, the device event listeners
// and the expiry sweep. Its agent ops are in broker/agent-ops.ts.
import type { Context } from '../context';
import { DeviceEvents } from './device-events';
import { JobEngine } from './engine';
import { JobRequests } from './requests';

declare module '../context' {
  interface LateParts {
    /** The job system (startJobs). */
    jobs: Jobs;
  }
}

export interface Jobs {
  engine: JobEngine;
  requests: JobRequests;
  stop(): Promise<void>;
}

export async function startJobs(ctx: Context): Promise<Jobs> {
  const engine = new JobEngine(ctx);
  const events = new DeviceEvents(ctx, engine);
  await engine.recover();
  const requests = new JobRequests(ctx, engine);
  engine.serve();
  events.start();
  const jobs: Jobs = {
    engine,
    requests,
    stop: () => {
      events.stop();
      return engine.stop();
    },
  };
  ctx.jobs = jobs;
  return jobs;
}
