// Claim, release and transfer: the store's compare-and-set, then the same-step update of the
// in-memory ACL map, then the notifications (device config, both agents' bindings).
import { type ClaimTarget, parseClaimTarget } from '../protocol/claim-target';
import { ErrorCode, ProtocolError } from '../protocol/errors';
import type { BoundDevice, JobsSnapshot } from '../protocol/messages';
import { deviceTopic } from '../protocol/topics';
import type { Context } from './context';
import { verifyLabel } from './labels';
import { verifyOrderLabel } from './orders/labels';
import { type PublisherContext, boundDevice, publishConfigOf, publishJson, scheduleBindings } from './publisher';
import { type BindingChange, claimDevice, rebindDevice } from './store/bindings';
import { getDevice, getDeviceByCodeOrId, getDeviceByMachineCode } from './store/devices';
import type { DeviceRow } from './store/schema';

/** What claims, releases and transfers read of the node. */
export type ClaimsContext = PublisherContext & Pick<Context, 'backends' | 'bindings' | 'claimGate' | 'events' | 'labelKey' | 'metrics' | 'opts' | 'writer'>;

const unknownMachine = (): ProtocolError => new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this label is not valid or the machine is unknown', 'target');

export async function resolveTarget(ctx: ClaimsContext, t: ClaimTarget): Promise<{ row: DeviceRow; via: string }> {
  if (t.kind === 'label') {
    if (!verifyLabel(ctx.labelKey, t.code, t.sig)) {
      // An order label names the machine truly but grants no claim: say which label it is.
      if (verifyOrderLabel(ctx.labelKey, t.code, t.sig))
        throw new ProtocolError(ErrorCode.WRONG_LABEL, "this is the machine's walk-up order label; scan its claim label", 'target');
      throw unknownMachine();
    }
    const row = await getDeviceByMachineCode(ctx.db, t.code);
    if (!row) throw unknownMachine();
    return { row, via: 'label' };
  }
  const row = await getDeviceByCodeOrId(ctx.db, t.code, t.device);
  if (!row) throw unknownMachine();
  return { row, via: t.code !== null && row.machine_code === t.code ? 'machine-code' : 'device-id' };
}

export function applyBindingChange(ctx: ClaimsContext, change: BindingChange): void {
  if (!change.changed) return;
  ctx.bindings.apply(change.device, change.to, change.version);
  // The retained queue snapshot lists the previous holder's jobs until the device's queue step
  // publishes the new one; a new holder subscribing in between must not be handed it
  // (docs/architecture.md, Jobs). Published before the change goes out, so the step's comes after.
  if (change.from !== null) {
    const empty: JobsSnapshot = { device: change.device, at: ctx.now(), jobs: [] };
    publishJson(ctx, deviceTopic(change.device, 'jobs'), empty, true).catch((err: unknown) =>
      ctx.log.error({ err, device: change.device }, 'replacing the jobs snapshot failed'),
    );
  }
  ctx.events.emit('binding', change);
  for (const agent of new Set([change.from, change.to])) if (agent !== null) scheduleBindings(ctx, agent, 0);
  // The row committed with the change: the config needs no read of its own.
  publishConfigOf(ctx, change.row, change.toName === undefined ? {} : { agentName: change.toName }).catch((err: unknown) =>
    ctx.log.error({ err, device: change.device }, 'publishing config failed'),
  );
}

export interface ClaimResult {
  device: BoundDevice;
  already: boolean;
}

export async function claim(ctx: ClaimsContext, agent: string, target: unknown, code?: string): Promise<ClaimResult> {
  ctx.backends.health.assertAvailable('claim a device');
  let resolved: { row: DeviceRow; via: string };
  if (code !== undefined) {
    const id = ctx.claimCodes.deviceFor(code);
    const row = id === undefined ? undefined : await getDevice(ctx.db, id);
    if (!row)
      throw new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this claim code is not valid (it changes after each use; read it off the screen again)', 'code');
    if (target !== undefined) {
      const named = await resolveTarget(ctx, parseClaimTarget(target));
      if (named.row.id !== row.id) throw new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this claim code belongs to another machine', 'code');
    }
    resolved = { row, via: 'claim-code' };
  } else {
    const t = parseClaimTarget(target);
    // Before the look-up, so a refused claim does not even tell whether the machine exists.
    if (ctx.opts.requireSignedLabel && t.kind !== 'label') {
      throw new ProtocolError(
        ErrorCode.FORBIDDEN,
        "this fleet requires proof of presence: scan the machine's label, or type the claim code shown on its screen; a typed machine code or device id is not accepted",
        'target',
      );
    }
    resolved = await resolveTarget(ctx, t);
  }
  try {
    const claimed = {
      device: resolved.row.id,
      agent,
      via: resolved.via,
      now: ctx.now(),
      defaultLimit: ctx.opts.deviceLimit,
      lockAgent: ctx.backends.sharedRegistry,
    };
    // On SQLite a burst of claims shares one commit. On PostgreSQL each claim keeps its own
    // transaction (two nodes' batches could lock the same devices in opposite orders), and the
    // gate keeps a burst of them from taking every pooled connection.
    const change = await (!ctx.backends.sharedRegistry
      ? ctx.writer.write((trx) => claimDevice(trx, claimed))
      : ctx.claimGate.run(() => ctx.db.transaction().execute((trx) => claimDevice(trx, claimed))));
    if (change instanceof ProtocolError) throw change;
    ctx.metrics.claims.inc({ outcome: change.changed ? 'claimed' : 'already' });
    applyBindingChange(ctx, change);
    if (change.changed) ctx.log.info({ device: change.device, agent, via: resolved.via, version: change.version }, 'claimed');
    return { device: boundDevice(ctx, change.row), already: !change.changed };
  } catch (err) {
    ctx.metrics.claims.inc({ outcome: err instanceof ProtocolError ? err.code : 'error' });
    throw err;
  }
}

export async function release(ctx: ClaimsContext, agent: string, device: string): Promise<{ device: string }> {
  ctx.backends.health.assertAvailable('release a device');
  const change = await rebindDevice(ctx.db, {
    device,
    holder: agent,
    to: null,
    actor: `agent:${agent}`,
    force: false,
    now: ctx.now(),
    defaultLimit: ctx.opts.deviceLimit,
  });
  applyBindingChange(ctx, change);
  ctx.log.info({ device, agent }, 'released');
  return { device };
}

export interface AdminRebind {
  actor: string;
  device: string;
  to: string | null;
  reason: string;
  force: boolean;
}

/** Transfer (to an agent) or forced release (to null): admin acts, audited with a reason. */
export async function adminRebind(ctx: ClaimsContext, a: AdminRebind): Promise<{ device: string; from: string | null; to: string | null; changed: boolean }> {
  ctx.backends.health.assertAvailable(a.to === null ? 'release a device' : 'transfer a device');
  const change = await rebindDevice(ctx.db, {
    device: a.device,
    to: a.to,
    actor: a.actor,
    reason: a.reason,
    force: a.force,
    now: ctx.now(),
    defaultLimit: ctx.opts.deviceLimit,
  });
  applyBindingChange(ctx, change);
  ctx.log.info({ device: a.device, from: change.from, to: a.to, actor: a.actor, forced: a.force }, a.to === null ? 'released by admin' : 'transferred');
  return { device: a.device, from: change.from, to: a.to, changed: change.changed };
}
