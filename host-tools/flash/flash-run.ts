// The steps of `npm run flash`, in order: load the build, connect and identify the chip, provision
// (or prepare enrollment), build the NVS image, write, verify, reset into the firmware, and
// optionally follow its console. Once the registry has a new entry for the device, any failure
// before verification removes it again.
import type { Logger } from 'pino';
import { deviceIdFromMac, normaliseMac } from '../../protocol/ids';
import { credentialEntries, type Credentials } from '../nvs/credentials';
import { NvsError } from '../nvs/format';
import { buildNvsPartition } from '../nvs/writer';
import type { SignalTap } from '../serial/signal-tap';
import { loadFirmwareBuild, type FirmwareBuild, type FlashImage } from './build-dir';
import { DataSubtype, findPartition, parsePartitionTable, PartitionTableError, PartitionType } from './partition-table';
import { resetIntoApp } from './device-console';
import { writeDryRun } from './dry-run';
import { EspSession, SUPPORTED_CHIP } from './esp-session';
import { FlashError } from './errors';
import type { FlashOptions } from './options';
import { formatBytes, type Progress } from './progress';
import { ProvisioningClient, type Provisioned } from './provisioning';

export interface FlashDeps {
  log: Logger;
  progress: Progress;
  tap?: SignalTap;
  monitorTimeoutMs: number;
  /** Registers what to undo if the user interrupts; returns the function that unregisters it. */
  onInterrupt(undo: () => Promise<void>): () => void;
}

export interface FlashSummary {
  deviceId: string | null;
  /** true: the registry has it now; false: it enrolls itself on first boot. */
  provisioned: boolean;
  machineCode: string | null;
  mac: string | null;
  chip: string | null;
  dryRunDir: string | null;
  registeredLine: string | null;
  /** Where the labels tool fetches the label's signature, when provisioning went through it. */
  brokerApi: string | null;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function imagesToWrite(build: FirmwareBuild, nvs: FlashImage, nvsOnly: boolean): FlashImage[] {
  if (nvsOnly) return [nvs];
  const all = [build.bootloader, build.partitionTable, nvs, build.app];
  if (build.otaData) all.push(build.otaData);
  return all.sort((a, b) => a.offset - b.offset);
}

function nvsImage(creds: Credentials, size: number): Uint8Array {
  try {
    return buildNvsPartition(credentialEntries(creds), size);
  } catch (e) {
    if (e instanceof NvsError) throw new FlashError('BUILD_INVALID', `the credentials do not fit the build's nvs partition: ${e.message}`);
    throw e;
  }
}

function flashBytes(size: string | null): number | null {
  const m = size ? /^(\d+)(KB|MB)$/.exec(size) : null;
  return m ? Number(m[1]) * (m[2] === 'MB' ? 1024 * 1024 : 1024) : null;
}

function credentialsFor(opts: FlashOptions, warn: (message: string) => void): Credentials {
  const creds: Credentials = { broker: opts.broker };
  if (opts.wifi) {
    creds.ssid = opts.wifi.ssid;
    if (opts.wifi.psk !== undefined) creds.psk = opts.wifi.psk;
  } else {
    warn('no --wifi: the firmware stops at boot until it has a Wi-Fi network');
  }
  if (opts.machine) creds.machine = opts.machine;
  if (opts.identity.kind === 'enroll') creds.enroll = opts.identity.token;
  return creds;
}

async function connect(port: string, opts: FlashOptions, deps: FlashDeps, warn: (message: string) => void): Promise<EspSession> {
  deps.progress.step(`Connecting to ${port}`);
  const session = await EspSession.open(port, { baud: opts.baud, log: deps.log, onWarning: warn, ...(deps.tap ? { tap: deps.tap } : {}) });
  const c = session.chip;
  deps.progress.note(`${c.description}, MAC ${c.mac}, ${c.flashSize ?? 'unknown size'} flash, ${c.crystalMHz} MHz crystal`);
  deps.log.info({ chip: c.name, description: c.description, revision: c.revision, mac: normaliseMac(c.mac), flashSize: c.flashSize, baud: session.baud }, 'chip detected');
  if (session.baud !== opts.baud) warn(`${opts.baud} baud did not work on ${port}; continuing at ${session.baud} baud`);
  return session;
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
  if (partitions.length === 0) throw new FlashError('BUILD_INVALID', '--nvs-only: the device has no partition table (erased flash); flash the whole firmware first');
  const nvs = findPartition(partitions, PartitionType.DATA, DataSubtype.NVS);
  if (!nvs || nvs.offset !== build.nvs.offset || nvs.size !== build.nvs.size) {
    throw new FlashError('BUILD_INVALID', `--nvs-only: the device's nvs partition ${nvs ? `(${hex(nvs.size)} bytes at ${hex(nvs.offset)})` : '(none)'} is not the build's (${hex(build.nvs.size)} bytes at ${hex(build.nvs.offset)}); flash the whole firmware`);
  }
}

export async function runFlash(opts: FlashOptions, deps: FlashDeps): Promise<FlashSummary> {
  const { log, progress } = deps;
  const warn = (message: string): void => {
    progress.note(`warning: ${message}`);
    log.warn(message);
  };
  const build = loadFirmwareBuild(opts.build);
  progress.step(`Firmware build ${build.dir}`);
  progress.note(`app ${formatBytes(build.app.data.length)} at ${hex(build.app.offset)}, nvs ${formatBytes(build.nvs.size)} at ${hex(build.nvs.offset)}`);
  log.info({ build: build.dir, partitions: build.partitions }, 'firmware build loaded');

  const session = opts.port ? await connect(opts.port, opts, deps, warn) : null;
  const mac = session ? normaliseMac(session.chip.mac) : (opts.mac ?? null);
  const summary: FlashSummary = {
    deviceId: mac ? deviceIdFromMac(mac) : null,
    provisioned: false,
    machineCode: opts.machine ?? null,
    mac,
    chip: session?.chip.description ?? null,
    dryRunDir: null,
    registeredLine: null,
    brokerApi: opts.identity.kind === 'provision' ? opts.identity.brokerApi : null,
  };
  try {
    if (session) await checkDevice(session, build, opts.nvsOnly);
    const creds = credentialsFor(opts, warn);
    let undo: ((why: string) => Promise<void>) | null = null;
    if (opts.identity.kind === 'provision') {
      const client = new ProvisioningClient(opts.identity.brokerApi, opts.identity.adminToken);
      progress.step(`Registering MAC ${mac} with ${opts.identity.brokerApi}`);
      const provisioned = await client.register(mac!, opts.machine, opts.identity.reprovision);
      creds.id = provisioned.id;
      creds.secret = provisioned.secret;
      summary.deviceId = provisioned.id;
      summary.provisioned = true;
      progress.note(`${provisioned.reprovisioned ? 'new secret for' : 'registered as'} ${provisioned.id}`);
      log.info({ device: provisioned.id, machineCode: opts.machine, reprovisioned: provisioned.reprovisioned }, 'device provisioned');
      undo = rollbackFor(client, provisioned, deps);
    } else {
      progress.step('Using an enrollment token: the device registers itself on first boot');
    }

    const unregister = undo ? deps.onInterrupt(() => undo('interrupted')) : () => {};
    try {
      const nvs: FlashImage = { name: 'nvs', offset: build.nvs.offset, data: nvsImage(creds, build.nvs.size), file: 'nvs.bin' };
      const images = imagesToWrite(build, nvs, opts.nvsOnly);
      if (!session) {
        summary.dryRunDir = writeDryRun(opts.dryRun!, SUPPORTED_CHIP, images, summary.deviceId, summary.machineCode);
        progress.step(`Wrote ${images.length} images and flash_args to ${summary.dryRunDir}`);
        log.info({ dir: summary.dryRunDir, images: images.map((i) => ({ name: i.name, offset: i.offset, size: i.data.length })) }, 'dry run written');
        return summary;
      }
      await writeAndVerify(session, images, opts.erase, deps);
    } catch (e) {
      await undo?.(e instanceof Error ? e.message : String(e));
      throw e;
    } finally {
      unregister();
    }
  } finally {
    await session?.close();
  }

  progress.step('Resetting into the firmware');
  const reset = await resetIntoApp(opts.port!, {
    onWarning: warn,
    ...(deps.tap ? { tap: deps.tap } : {}),
    monitor: opts.monitor ? { timeoutMs: deps.monitorTimeoutMs, onLine: (line) => progress.note(`│ ${line}`) } : null,
  });
  if (!reset.resetByLines) progress.note('press EN (RESET) on the board to start the firmware');
  summary.registeredLine = reset.registeredLine;
  log.info({ device: summary.deviceId, machineCode: summary.machineCode, provisioned: summary.provisioned, online: reset.registeredLine !== null }, 'flash complete');
  return summary;
}

async function writeAndVerify(session: EspSession, images: FlashImage[], erase: boolean, deps: FlashDeps): Promise<void> {
  const { progress, log } = deps;
  progress.step(`${erase ? 'Erasing the flash, then writing' : 'Writing'} ${images.length} image${images.length === 1 ? '' : 's'} at ${session.baud} baud`);
  let current = -1;
  await session.write(images, erase, (index, written, total) => {
    if (index !== current) {
      current = index;
      const img = images[index]!;
      progress.startImage(`${img.name} @${hex(img.offset)}`, total);
    }
    progress.update(written);
  });
  progress.step('Verifying MD5 of every image');
  for (const image of images) {
    const md5 = await session.verify(image);
    progress.note(`${image.name.padEnd(16)} ${hex(image.offset).padEnd(8)} ${md5} ok`);
    log.info({ image: image.name, offset: image.offset, size: image.data.length, md5 }, 'image verified');
  }
}

/** Undoes a registration after a failed flash; a re-provisioned device cannot be undone, only re-flashed. */
function rollbackFor(client: ProvisioningClient, p: Provisioned, deps: FlashDeps): (why: string) => Promise<void> {
  let done = false;
  return async (why) => {
    if (done) return;
    done = true;
    const { progress, log } = deps;
    if (p.reprovisioned) {
      progress.note(`${p.id} already existed and its secret was rotated; the device does not have the new one yet: run again with --nvs-only`);
      log.warn({ device: p.id, reason: why }, 'flash failed after re-provisioning; registry entry kept');
      return;
    }
    try {
      await client.remove(p.id, `flash failed: ${why}`);
      progress.note(`removed ${p.id} from the registry again, since flashing did not complete`);
      log.warn({ device: p.id, reason: why }, 'provisioning rolled back');
    } catch (e) {
      const message = e instanceof FlashError ? e.message : String(e);
      progress.note(`could not remove ${p.id} from the registry (${message}); delete it by hand`);
      log.error({ device: p.id, reason: why, err: message }, 'rollback failed');
    }
  };
}
