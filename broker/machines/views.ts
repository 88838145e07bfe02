// The machine list and a machine's page in the printing operators' terms (docs/architecture.md,
// Machine state): code, name, location, derived status, current job, queue length, consumables.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId, normaliseMachineCode } from '../../protocol/ids';
import { type Shadow, machineStatus } from '../../protocol/machine-state';
import type { MachineDetail, MachineView } from '../../protocol/rest';
import type { Context } from '../context';
import { openJobsOf } from '../jobs/store';
import { getDevice, getDeviceByMachineCode, listDevices } from '../store/devices';
import type { DeviceRow } from '../store/schema';
import { alertView } from './alerts';
import { listAlerts } from './store';

/** What this module reads of the node's context. */
type ViewsContext = Pick<Context, 'bindings' | 'db' | 'jobs' | 'machines' | 'opts' | 'presence'>;

export type Viewer = { kind: 'agent' | 'admin'; id: string };

function row(
  ctx: ViewsContext,
  d: DeviceRow,
  shadow: Shadow | undefined,
  jobs: Array<{ id: string; state: string }>,
  openAlerts: number,
  viewer: Viewer,
): MachineView {
  const presence = ctx.presence.status(d.id);
  const running = jobs.find((j) => j.state === 'running' || j.state === 'dispatched');
  const v: MachineView = {
    code: d.machine_code,
    device: d.id,
    name: d.machine_code ?? d.id,
    location: d.location,
    machineStatus: machineStatus(presence.state, shadow?.reported ?? null, ctx.opts.machines.lowPercent, running !== undefined),
    presence,
    currentJob: running?.id ?? shadow?.reported.machine?.job ?? null,
    queueLength: jobs.length,
    consumables: shadow?.reported.consumables ?? {},
    openAlerts,
  };
  if (viewer.kind === 'admin' && d.agent_id !== null) v.agent = d.agent_id;
  return v;
}

async function views(ctx: ViewsContext, devices: DeviceRow[], viewer: Viewer): Promise<MachineView[]> {
  const ids = devices.map((d) => d.id);
  const [shadows, jobs, alerts] = await Promise.all([
    ctx.machines.shadows.shadows(ids),
    openJobsOf(ctx.jobs.engine.db, ids),
    listAlerts(ctx.db, { devices: ids, state: 'open', limit: 10_000 }),
  ]);
  const jobsBy = new Map<string, Array<{ id: string; state: string }>>();
  for (const j of jobs) jobsBy.set(j.device, [...(jobsBy.get(j.device) ?? []), j]);
  const alertsBy = new Map<string, number>();
  for (const a of alerts) alertsBy.set(a.device, (alertsBy.get(a.device) ?? 0) + 1);
  return devices.map((d) => row(ctx, d, shadows.get(d.id), jobsBy.get(d.id) ?? [], alertsBy.get(d.id) ?? 0, viewer));
}

/** GET /api/machines: an agent sees the machines it holds now, an admin every machine. */
export async function listMachines(ctx: ViewsContext, viewer: Viewer): Promise<MachineView[]> {
  return views(ctx, await listDevices(ctx.db, viewer.kind === 'agent' ? viewer.id : undefined), viewer);
}

/**
 * A machine by its code or device id, if the viewer may see it: an agent only one it holds now.
 * Anything else is NOT_FOUND, so an agent learns nothing of machines it does not hold.
 */
export async function machineFor(ctx: ViewsContext, viewer: Viewer, codeOrId: string): Promise<DeviceRow> {
  const byCode = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(codeOrId) ? await getDeviceByMachineCode(ctx.db, normaliseMachineCode(codeOrId)) : undefined;
  const d = byCode ?? (await getDevice(ctx.db, normaliseId(codeOrId, 'machine code or device id', 'code')));
  if (!d || (viewer.kind === 'agent' && ctx.bindings.agentOf(d.id) !== viewer.id))
    throw new ProtocolError(ErrorCode.NOT_FOUND, `no machine ${codeOrId.slice(0, 64)}`, 'code');
  return d;
}

export async function machineDetail(ctx: ViewsContext, viewer: Viewer, d: DeviceRow): Promise<MachineDetail> {
  const [v] = await views(ctx, [d], viewer);
  const alerts = await listAlerts(ctx.db, { devices: [d.id], limit: 100 });
  return { ...v!, shadow: await ctx.machines.shadows.shadow(d.id), alerts: alerts.map(alertView) };
}
