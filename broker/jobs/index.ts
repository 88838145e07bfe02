// Wires the job system into a broker node: recovery after a restart, the agent ops cancel and
// jobs (submit is routed by the pools, broker/pools/pools.ts, to a device, a pool or the primary), the device event listeners and the expiry sweep.
import type { AgentRequest } from '../../protocol/messages';
import type { Context } from '../context';
import { DeviceEvents } from './device-events';
import { JobEngine } from './engine';
import { JobRequests } from './requests';

export interface Jobs {
  engine: JobEngine;
  requests: JobRequests;
  stop(): Promise<void>;
}

type Op<O extends AgentRequest['op']> = Extract<AgentRequest, { op: O }>;

export async function startJobs(ctx: Context): Promise<Jobs> {
  const engine = new JobEngine(ctx);
  const events = new DeviceEvents(ctx, engine);
  await events.recover();
  const requests = new JobRequests(ctx, engine);
  ctx.agentOps.set('cancel', (_ctx, who, req) => requests.cancel({ kind: 'agent', id: who.id }, (req as Op<'cancel'>).job));
  ctx.agentOps.set('jobs', async (_ctx, who, req) => {
    const r = req as Op<'jobs'>;
    return { device: r.device, at: ctx.now(), jobs: await requests.list(who.id, { device: r.device, ...(r.limit === undefined ? {} : { limit: r.limit }) }) };
  });
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
