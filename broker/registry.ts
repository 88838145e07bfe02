// Device registration: admin provisioning, self-enrollment with a fleet token, and the hello
// every device sends on connect.
import { ErrorCode, ProtocolError } from '../protocol/errors';
import { deviceIdFromMac, normaliseMac, normaliseMachineCode } from '../protocol/ids';
import { type EnrollReply, parseEnrollRequest, parseHello } from '../protocol/messages';
import { enrollReplyTopic } from '../protocol/topics';
import { parseJson } from '../protocol/validate';
import { deviceSecretHash } from './auth/device-secrets';
import { randomToken } from './auth/secrets';
import type { Context } from './context';
import type { Identity } from './identity';
import { credentialKey } from './live-credentials';
import { enrollTokenSubject } from './authenticate';
import { type PublisherContext, publishConfig, publishConfigOf, publishJson } from './publisher';
import { checkEnrollmentToken, consumeEnrollmentToken } from './store/enrollment';
import { STORM_WRITE_PATIENCE_MS } from './store/group-writer';
import {
  announceMachineCode,
  type DeviceProfile,
  getDevice,
  getDeviceByMac,
  isUnfinishedEnrollment,
  type MachineRefusal,
  provisionDevice,
  recordHello,
} from './store/devices';

/** What this module reads of the node's context. */
type RegistryContext = Pick<Context, 'db' | 'deviceKey' | 'events' | 'kick' | 'log' | 'metrics' | 'now' | 'throttle' | 'writer'> & PublisherContext;

export interface ProvisionRequest {
  mac: unknown;
  machineCode?: unknown;
  model?: unknown;
  reprovision?: unknown;
}

/** Admin provisioning (used by `npm run flash`): returns the new secret exactly once. */
export async function provisionByAdmin(
  ctx: RegistryContext,
  req: ProvisionRequest,
  actor: string,
): Promise<{ id: string; secret: string; reprovisioned: boolean }> {
  const mac = normaliseMac(req.mac);
  const machineCode = req.machineCode === undefined || req.machineCode === null || req.machineCode === '' ? null : normaliseMachineCode(req.machineCode);
  if (req.model !== undefined && (typeof req.model !== 'string' || req.model.length > 64))
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'model must be a string of at most 64 characters', 'model');
  if (req.reprovision !== undefined && typeof req.reprovision !== 'boolean')
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'reprovision must be true or false', 'reprovision');
  const id = deviceIdFromMac(mac);
  const secret = randomToken(32);
  const secretHash = deviceSecretHash(ctx.deviceKey, id, secret);
  const { reprovisioned, previousSecretHash } = await ctx.db
    .transaction()
    .execute((trx) =>
      provisionDevice(
        trx,
        { id, mac, machineCode, model: (req.model as string | undefined) ?? null, secretHash, reprovision: req.reprovision === true },
        actor,
        ctx.now(),
        'admin',
      ),
    );
  await retireSecret(ctx, id, previousSecretHash);
  ctx.log.info({ device: id, machineCode, reprovisioned, actor }, 'device provisioned');
  return { id, secret, reprovisioned };
}

/** A device got a new secret: every connection that authenticated with the old one ends, on every node. */
async function retireSecret(ctx: RegistryContext, device: string, previousSecretHash: string | null): Promise<void> {
  if (previousSecretHash === null) return;
  const closed = await ctx.kick({ kind: 'credential', id: credentialKey.deviceSecret(device, previousSecretHash) }, 'kicked');
  if (closed > 0) ctx.log.info({ device, closed }, 'connections with the old device secret closed');
}

/** `connected` says whether the enrolling connection is still there to be answered. */
export async function handleEnroll(ctx: RegistryContext, who: Extract<Identity, { kind: 'enroll' }>, payload: Buffer, connected: () => boolean): Promise<void> {
  let reply: EnrollReply;
  try {
    const req = parseEnrollRequest(parseJson(payload.toString('utf8')));
    if (req.mac !== who.mac) throw new ProtocolError(ErrorCode.FORBIDDEN, 'MAC in the request does not match the client id', 'mac');
    const id = deviceIdFromMac(req.mac);
    const secret = randomToken(32);
    // The device gave up waiting and will enroll again; nothing was written, so nothing is lost.
    if (!connected()) return;
    const secretHash = deviceSecretHash(ctx.deviceKey, id, secret);
    // A fleet enrolling at once shares commits; the token use and the device are one commit.
    const actor = `enroll:${who.tokenId}`;
    const { previousSecretHash, machineRefusal } = await ctx.writer.write(async (trx) => {
      const earlier = await getDeviceByMac(trx, req.mac);
      const token =
        earlier && isUnfinishedEnrollment(earlier)
          ? await checkEnrollmentToken(trx, who.tokenId, ctx.now())
          : await consumeEnrollmentToken(trx, who.tokenId, ctx.now());
      const provisioned = await provisionDevice(
        trx,
        { id, mac: req.mac, model: req.model, fw: req.fw, secretHash, mayAnnounceMachine: token.allowMachineCodes },
        actor,
        ctx.now(),
        'enroll',
      );
      // A refused code does not refuse the enrollment: the device learns why at its hello.
      let refusal: Awaited<ReturnType<typeof announceMachineCode>> = null;
      if (req.machine !== undefined) {
        const device = await getDevice(trx, id);
        if (device) refusal = await announceMachineCode(trx, device, req.machine, actor, ctx.now());
      }
      return { ...provisioned, machineRefusal: refusal };
    });
    if (machineRefusal) machineRefused(ctx, id, 'enroll', machineRefusal);
    await retireSecret(ctx, id, previousSecretHash);
    ctx.log.info({ device: id, token: who.tokenId }, 'device enrolled');
    reply = { ok: true, deviceId: id, secret };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    ctx.log.warn({ mac: who.mac, code: err.code, reason: err.message }, 'enrollment refused');
    await ctx.throttle.failSubject(enrollTokenSubject(who.tokenId), ctx.now());
    reply = { ok: false, error: err.toWire() };
  }
  await publishJson(ctx, enrollReplyTopic(who.mac), reply);
}

function machineRefused(ctx: RegistryContext, device: string, via: 'enroll' | 'hello', refusal: { reason: MachineRefusal; error: ProtocolError }): void {
  ctx.metrics.machineCodeRefusals.inc({ via, reason: refusal.reason });
  ctx.log.warn({ device, via, reason: refusal.reason, code: refusal.error.code, message: refusal.error.message }, 'machine code announcement refused');
}

/**
 * Every hello is answered with the device's config. A malformed hello changes nothing: its config
 * says why (`error`) and keeps the claim code on screen. A refused machine code is answered the
 * same way, while the rest of the hello is recorded. Returns the profile it recorded, so the job
 * engine need not read it back, or null when it recorded none.
 */
export async function handleHello(ctx: RegistryContext, device: string, payload: Buffer): Promise<DeviceProfile | null> {
  let hello;
  try {
    hello = parseHello(parseJson(payload.toString('utf8')));
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    ctx.metrics.helloRefusals.inc({ reason: 'invalid' });
    ctx.log.warn({ device, code: err.code, field: err.field, reason: err.message }, 'malformed hello refused');
    await publishConfig(ctx, device, { error: err.toWire(), keepClaimCode: true });
    return null;
  }
  const update = { fw: hello.fw, model: hello.model, caps: hello.caps, concurrency: hello.concurrency ?? 1, ...(hello.screen ? { screen: hello.screen } : {}) };
  const machine = hello.machine;
  // After a broker restart the whole fleet says hello at once: share commits.
  const { row, refusal } = await ctx.writer.write(async (trx) => {
    const row = await recordHello(trx, device, update, ctx.now());
    if (row === undefined) return { row, refusal: null };
    return { row, refusal: machine === undefined ? null : await announceMachineCode(trx, row, machine, device, ctx.now()) };
  }, STORM_WRITE_PATIENCE_MS);
  if (refusal) {
    ctx.metrics.helloRefusals.inc({ reason: `machine-${refusal.reason}` });
    machineRefused(ctx, device, 'hello', refusal);
  }
  const answer = {
    ...(hello.sentAt === undefined ? {} : { helloSentAt: hello.sentAt }),
    ...(refusal ? { error: refusal.error.toWire() } : {}),
  };
  // The hello's UPDATE returned the row as it committed, unless a machine code it announced for
  // the first time was adopted after it (a code the row already has is no news).
  if (row !== undefined && (machine === undefined || row.machine_code === machine)) await publishConfigOf(ctx, row, answer);
  else await publishConfig(ctx, device, answer);
  if (hello.ota !== undefined) ctx.events.emit('ota', device, hello.ota);
  return row !== undefined ? { caps: update.caps, concurrency: update.concurrency, screen: hello.screen ?? null } : null;
}
