// Flashing one device on an open Web Serial port, the same from the CLI (flash-run.ts) and the
// web app's Flash page: connect and identify the chip, pick the build for it, provision (or prepare
// enrollment), build the NVS image, write, verify every image's MD5, reset into the firmware, and
// optionally follow its console. Once the registry has a new entry for the device, any failure
// before verification removes it again.
import { deviceIdFromMac, normaliseMac } from '../../protocol/ids';
import { resetIntoApp } from './device-console';
import { EspSession, type FlashPort } from './esp-session';
import { FlashError } from './errors';
import type { FirmwareBuild, FlashImage } from './firmware-images';
import type { FlashLog } from './flash-log';
import type { Credentials } from '../nvs/credentials';
import { credentialsFor, flashBytes, imagesToWrite, nvsImageFor, type CredentialInput } from './flash-plan';
import { builtFor, pickBuild } from './pick-build';
import { DataSubtype, findPartition, parsePartitionTable, PartitionTableError, PartitionType } from './partition-table';

/** Progress as steps, notes and a bar per image: the CLI prints it, the web page renders it. */
export interface FlashReporter {
  step(text: string): void;
  note(text: string): void;
  startImage(label: string, total: number): void;
  update(done: number): void;
}

export interface Provisioned {
  id: string;
  secret: string;
  /** The MAC was registered before: this rotated its secret rather than creating the device. */
  reprovisioned: boolean;
}

/** The broker's device registry as flashing uses it (provisioning.ts, over the admin REST API). */
export interface Registry {
  register(mac: string, machineCode: string | undefined, reprovision: boolean): Promise<Provisioned>;
  /** What register would do, read-only: throws as register would refuse, else says whether it would rotate a secret. */
  check(mac: string, reprovision: boolean): Promise<{ id: string; exists: boolean }>;
  remove(id: string, reason: string): Promise<void>;
}

export type DeviceIdentity = { kind: 'provision'; registry: Registry; reprovision: boolean } | { kind: 'enroll'; token: string };

export interface FlashRequest {
  builds: FirmwareBuild[];
  broker: string;
  trust: CredentialInput['trust'];
  identity: DeviceIdentity;
  wifi?: { ssid: string; psk?: string };
  machine?: string;
  releaseKeys?: string;
  erase: boolean;
  nvsOnly: boolean;
  baud: number;
  monitor: { timeoutMs: number; onLine(line: string): void } | null;
  /** Connect, identify and check, then stop: nothing is registered, written or erased. */
  dryRun?: boolean;
}

export interface FlashEnv {
  log: FlashLog;
  reporter: FlashReporter;
  warn(message: string): void;
  /** Registers what to undo if the user interrupts; returns the function that unregisters it. */
  onInterrupt(undo: () => Promise<void>): () => void;
}

export interface DeviceSummary {
  deviceId: string;
  /** true: the registry has it now; false: it enrolls itself on first boot. */
  provisioned: boolean;
  mac: string;
  chip: string;
  build: FirmwareBuild;
  images: FlashImage[];
  resetByLines: boolean;
  registeredLine: string | null;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export async function flashDevice(port: FlashPort, req: FlashRequest, env: FlashEnv): Promise<DeviceSummary> {
  const { reporter, log, warn } = env;
  reporter.step(`Connecting to ${port.label}`);
  const session = await EspSession.open(port, { baud: req.baud, log, chips: req.builds.map((b) => b.chip.name) });
  let summary: DeviceSummary;
  try {
    const c = session.chip;
    reporter.note(`${c.description}, MAC ${c.mac}, ${c.flashSize ?? 'unknown size'} flash, ${c.crystalMHz} MHz crystal`);
    log.info(
      { chip: c.name, description: c.description, revision: c.revision, mac: normaliseMac(c.mac), flashSize: c.flashSize, baud: session.baud },
      'chip detected',
    );
    if (session.baud !== req.baud) warn(`${req.baud} baud did not work on ${port.label}; continuing at ${session.baud} baud`);
    const build = pickBuild(req.builds, c.name, `on ${port.label}`);
    if (req.builds.length > 1) reporter.note(`using the ${build.chip.name} build of ${builtFor(req.builds)}`);
    await checkDevice(session, build, req.nvsOnly);

    const mac = normaliseMac(c.mac);
    const creds = credentialsFor(
      {
        broker: req.broker,
        trust: req.trust,
        ...(req.wifi ? { wifi: req.wifi } : {}),
        ...(req.machine ? { machine: req.machine } : {}),
        ...(req.identity.kind === 'enroll' ? { enrollToken: req.identity.token } : {}),
        ...(req.releaseKeys ? { releaseKeys: req.releaseKeys } : {}),
      },
      warn,
    );
    summary = { deviceId: deviceIdFromMac(mac), provisioned: false, mac, chip: c.description, build, images: [], resetByLines: false, registeredLine: null };
    if (req.dryRun === true) summary.images = await planWithoutChanges(req, mac, creds, build, env);
    else summary.images = await provisionAndWrite(session, req, mac, creds, build, summary, env);
  } finally {
    await session.close();
  }

  reporter.step(req.dryRun === true ? 'Resetting into the firmware that was there' : 'Resetting into the firmware');
  const reset = await resetIntoApp(port, { monitor: req.dryRun === true ? null : req.monitor });
  if (!reset.resetByLines) reporter.note('press EN (RESET) on the board to start the firmware');
  summary.resetByLines = reset.resetByLines;
  summary.registeredLine = reset.registeredLine;
  return summary;
}

/** Registers the device (or prepares enrollment), then writes and verifies; a failure rolls the registration back. */
async function provisionAndWrite(
  session: EspSession,
  req: FlashRequest,
  mac: string,
  creds: Credentials,
  build: FirmwareBuild,
  summary: DeviceSummary,
  env: FlashEnv,
): Promise<FlashImage[]> {
  const { reporter, log } = env;
  let undo: ((why: string) => Promise<void>) | null = null;
  if (req.identity.kind === 'provision') {
    reporter.step(`Registering MAC ${mac}`);
    const provisioned = await req.identity.registry.register(mac, req.machine, req.identity.reprovision);
    creds.id = provisioned.id;
    creds.secret = provisioned.secret;
    summary.deviceId = provisioned.id;
    summary.provisioned = true;
    reporter.note(`${provisioned.reprovisioned ? 'new secret for' : 'registered as'} ${provisioned.id}`);
    log.info({ device: provisioned.id, machineCode: req.machine, reprovisioned: provisioned.reprovisioned }, 'device provisioned');
    undo = rollbackFor(req.identity.registry, provisioned, env);
  } else {
    reporter.step('Using an enrollment token: the device registers itself on first boot');
  }
  const unregister = undo ? env.onInterrupt(() => undo('interrupted')) : () => {};
  try {
    const images = imagesToWrite(build, nvsImageFor(creds, build), req.nvsOnly);
    await writeAndVerify(session, images, req.erase, env);
    return images;
  } catch (e) {
    await undo?.(e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    unregister();
  }
}

/**
 * A dry run's plan: the registry is only read (a MAC it already holds is refused as the real run
 * would refuse it), and the NVS image is built in memory with a stand-in secret so its fit is
 * checked. Nothing is registered, written or kept.
 */
export async function planWithoutChanges(
  req: Pick<FlashRequest, 'identity' | 'erase' | 'nvsOnly'>,
  mac: string,
  creds: Credentials,
  build: FirmwareBuild,
  env: FlashEnv,
): Promise<FlashImage[]> {
  const { reporter } = env;
  if (req.identity.kind === 'provision') {
    const r = await req.identity.registry.check(mac, req.identity.reprovision);
    reporter.note(r.exists ? `would give ${r.id} a new secret (--reprovision)` : `would register MAC ${mac} as ${r.id}`);
    creds.id = r.id;
    // As long as a real one (32 random bytes, base64url), so the NVS image is checked at full size.
    creds.secret = 'x'.repeat(43);
  } else {
    reporter.note('would write the enrollment token: the device registers itself on first boot');
  }
  const images = imagesToWrite(build, nvsImageFor(creds, build), req.nvsOnly);
  for (const i of images)
    reporter.note(`would write ${i.name.padEnd(16)} ${hex(i.offset).padEnd(8)} ${i.data.length} bytes${req.erase ? ' (after erasing the flash)' : ''}`);
  reporter.step('Dry run: nothing was changed (registry, device and files are as they were)');
  return images;
}

/** Refuses a device the build does not fit, before anything is registered or written. */
async function checkDevice(session: EspSession, build: FirmwareBuild, nvsOnly: boolean): Promise<void> {
  const capacity = flashBytes(session.chip.flashSize);
  const end = Math.max(...build.partitions.map((p) => p.offset + p.size));
  if (capacity !== null && end > capacity) {
    throw new FlashError('BUILD_INVALID', `the build's partitions end at ${hex(end)}, beyond this device's ${session.chip.flashSize} flash`);
  }
  if (!nvsOnly) return;
  // Only the NVS is written: it must go where the firmware already on the device looks for it.
  const onDevice = await session.read(build.partitionTable.offset, build.partitionTable.data.length);
  let partitions;
  try {
    partitions = parsePartitionTable(onDevice);
  } catch (e) {
    if (!(e instanceof PartitionTableError)) throw e;
    throw new FlashError('BUILD_INVALID', `--nvs-only: the device has no readable partition table (${e.message}); flash the whole firmware first`);
  }
  if (partitions.length === 0)
    throw new FlashError('BUILD_INVALID', '--nvs-only: the device has no partition table (erased flash); flash the whole firmware first');
  const nvs = findPartition(partitions, PartitionType.DATA, DataSubtype.NVS);
  if (!nvs || nvs.offset !== build.nvs.offset || nvs.size !== build.nvs.size) {
    throw new FlashError(
      'BUILD_INVALID',
      `--nvs-only: the device's nvs partition ${nvs ? `(${hex(nvs.size)} bytes at ${hex(nvs.offset)})` : '(none)'} is not the build's (${hex(build.nvs.size)} bytes at ${hex(build.nvs.offset)}); flash the whole firmware`,
    );
  }
}

async function writeAndVerify(session: EspSession, images: FlashImage[], erase: boolean, env: FlashEnv): Promise<void> {
  const { reporter, log } = env;
  reporter.step(`${erase ? 'Erasing the flash, then writing' : 'Writing'} ${images.length} image${images.length === 1 ? '' : 's'} at ${session.baud} baud`);
  let current = -1;
  await session.write(images, erase, (index, written, total) => {
    if (index !== current) {
      current = index;
      const img = images[index]!;
      reporter.startImage(`${img.name} @${hex(img.offset)}`, total);
    }
    reporter.update(written);
  });
  reporter.step('Verifying MD5 of every image');
  for (const image of images) {
    const md5 = await session.verify(image);
    reporter.note(`${image.name.padEnd(16)} ${hex(image.offset).padEnd(8)} ${md5} ok`);
    log.info({ image: image.name, offset: image.offset, size: image.data.length, md5 }, 'image verified');
  }
}

/** Undoes a registration after a failed flash; a re-provisioned device cannot be undone, only re-flashed. */
function rollbackFor(registry: Registry, p: Provisioned, env: FlashEnv): (why: string) => Promise<void> {
  let done = false;
  return async (why) => {
    if (done) return;
    done = true;
    const { reporter, log } = env;
    if (p.reprovisioned) {
      reporter.note(`${p.id} already existed and its secret was rotated; the device does not have the new one yet: run again with --nvs-only`);
      log.warn({ device: p.id, reason: why }, 'flash failed after re-provisioning; registry entry kept');
      return;
    }
    try {
      await registry.remove(p.id, `flash failed: ${why}`);
      reporter.note(`removed ${p.id} from the registry again, since flashing did not complete`);
      log.warn({ device: p.id, reason: why }, 'provisioning rolled back');
    } catch (e) {
      const message = e instanceof FlashError ? e.message : String(e);
      reporter.note(`could not remove ${p.id} from the registry (${message}); delete it by hand`);
      log.error({ device: p.id, reason: why, err: message }, 'rollback failed');
    }
  };
}
