// The steps of `npm run flash`: load the build (a Moddable build folder or a release artefact),
// then write the images to a folder (--out), or flash the device on the port through the shared
// steps in flash-device.ts over the Node Web-Serial adapter; --dry-run only says what either would
// do and changes nothing.
import { deviceIdFromMac } from '../../protocol/ids';
import { describePorts, listUsbSerialPorts } from '../serial/port-list';
import type { SignalTap } from '../serial/signal-tap';
import { NodeWebSerialPort } from '../serial/web-serial-port';
import { loadFirmwareBuilds } from './build-dir';
import { writeImagesTo } from './out-dir';
import type { FlashPort } from './esp-session';
import { FlashError } from './errors';
import { flashDevice, planWithoutChanges, type DeviceIdentity, type FlashReporter } from './flash-device';
import type { FlashLog } from './flash-log';
import { credentialsFor, imagesToWrite, nvsImageFor } from './flash-plan';
import type { FirmwareBuild } from './firmware-images';
import { improvSetWifi } from './improv-client';
import type { FlashOptions, ImprovOptions } from './options';
import { builtFor } from './pick-build';
import { formatBytes } from './progress';
import { ProvisioningClient } from './provisioning';

export interface FlashDeps {
  log: FlashLog;
  progress: FlashReporter;
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
  outDir: string | null;
  dryRun: boolean;
  registeredLine: string | null;
  /** Where the labels tool fetches the label's signature, when provisioning went through it. */
  brokerApi: string | null;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function nodeFlashPort(path: string, warn: (message: string) => void, tap?: SignalTap): FlashPort {
  const port = new NodeWebSerialPort(path, { onWarning: warn, ...(tap ? { tap } : {}) });
  return { port: port as unknown as SerialPort, label: path, signalsReachDevice: () => port.signalsReachDevice };
}

export async function runFlash(opts: FlashOptions, deps: FlashDeps): Promise<FlashSummary> {
  const { log, progress } = deps;
  const warn = (message: string): void => {
    progress.note(`warning: ${message}`);
    log.warn(message);
  };
  const builds = loadFirmwareBuilds(opts.build);
  progress.step(`Firmware ${builds[0]!.source.replace(/ \(.*\)$/, '')} for the ${builtFor(builds)}`);
  for (const b of builds) {
    progress.note(
      `${b.chip.name}: app ${formatBytes(b.app.data.length)} at ${hex(b.app.offset)}, nvs ${formatBytes(b.nvs.size)} at ${hex(b.nvs.offset)}, bootloader at ${hex(b.bootloader.offset)}`,
    );
  }
  log.info({ build: builds.map((b) => ({ source: b.source, chip: b.chip.name, partitions: b.partitions })) }, 'firmware build loaded');
  const brokerApi = opts.identity.kind === 'provision' ? opts.identity.brokerApi : null;

  if (!opts.port) return withoutPort(opts, builds, deps, warn);

  const identity: DeviceIdentity =
    opts.identity.kind === 'provision'
      ? { kind: 'provision', registry: new ProvisioningClient(opts.identity.brokerApi, opts.identity.adminToken), reprovision: opts.identity.reprovision }
      : { kind: 'enroll', token: opts.identity.token };
  const path = await resolvePort(opts.port, progress);
  const result = await flashDevice(
    nodeFlashPort(path, warn, deps.tap),
    {
      builds,
      broker: opts.broker,
      trust: opts.trust,
      identity,
      ...(opts.wifi && !opts.improv ? { wifi: opts.wifi } : {}),
      ...(opts.machine ? { machine: opts.machine } : {}),
      ...(opts.releaseKeys ? { releaseKeys: opts.releaseKeys } : {}),
      erase: opts.erase,
      nvsOnly: opts.nvsOnly,
      baud: opts.baud,
      monitor: opts.monitor ? { timeoutMs: deps.monitorTimeoutMs, onLine: (line) => progress.note(`│ ${line}`) } : null,
      dryRun: opts.dryRun,
    },
    { log, reporter: progress, warn, onInterrupt: deps.onInterrupt },
  ).catch(async (e: unknown) => {
    if (e instanceof FlashError && e.code === 'NO_PORT') throw new FlashError('NO_PORT', `${e.message}; ${describePorts(await listUsbSerialPorts())}`);
    throw e;
  });
  if (opts.dryRun) log.info({ device: result.deviceId, machineCode: opts.machine }, 'dry run: nothing changed');
  else
    log.info({ device: result.deviceId, machineCode: opts.machine, provisioned: result.provisioned, online: result.registeredLine !== null }, 'flash complete');
  if (opts.improv && opts.wifi && !opts.dryRun)
    await runImprov({ port: path, wifi: { ssid: opts.wifi.ssid, psk: opts.wifi.psk ?? '' }, timeoutMs: deps.monitorTimeoutMs }, deps);
  return {
    deviceId: result.deviceId,
    provisioned: result.provisioned,
    machineCode: opts.machine ?? null,
    mac: result.mac,
    chip: result.chip,
    outDir: null,
    dryRun: opts.dryRun,
    registeredLine: result.registeredLine,
    brokerApi,
  };
}

/** `npm run flash -- improv`, and --improv after a flash: the network, given over Improv Wi-Fi. */
export async function runImprov(opts: ImprovOptions, deps: Pick<FlashDeps, 'log' | 'progress' | 'tap'>): Promise<void> {
  const { progress, log } = deps;
  const warn = (message: string): void => {
    progress.note(`warning: ${message}`);
    log.warn(message);
  };
  const path = await resolvePort(opts.port, progress);
  progress.step(`Giving the device on ${path} the Wi-Fi network ${JSON.stringify(opts.wifi.ssid)} over Improv`);
  const { info } = await improvSetWifi(nodeFlashPort(path, warn, deps.tap).port, path, opts.wifi.ssid, opts.wifi.psk, { timeoutMs: opts.timeoutMs });
  progress.note(`${info.name} (${info.firmware} ${info.version} on ${info.chip}) joined ${JSON.stringify(opts.wifi.ssid)}`);
  log.info({ device: info.name, fw: info.version, ssid: opts.wifi.ssid }, 'Wi-Fi set over Improv');
}

/** `--port auto`: the only USB serial port there is; with none or several, say which exist. */
export async function resolvePort(port: string, progress: FlashReporter): Promise<string> {
  if (port !== 'auto') return port;
  const ports = await listUsbSerialPorts();
  if (ports.length === 1) {
    progress.note(`--port auto: ${describePorts(ports)}`);
    return ports[0]!.path;
  }
  if (ports.length === 0) throw new FlashError('NO_PORT', '--port auto: no USB serial ports are connected; plug the board in (a charge-only cable shows none)');
  throw new FlashError('USAGE', `--port auto: ${ports.length} USB serial ports, pick one with --port: ${describePorts(ports)}`);
}

/**
 * No port: --out writes the images for the MAC given to a folder (registering it first with
 * --broker-api); --dry-run only says what that would do.
 */
async function withoutPort(opts: FlashOptions, builds: FirmwareBuild[], deps: FlashDeps, warn: (message: string) => void): Promise<FlashSummary> {
  const { progress, log } = deps;
  const build = opts.chip ? builds.find((b) => b.chip.name === opts.chip) : builds.length === 1 ? builds[0] : undefined;
  if (!build) {
    throw new FlashError(
      'USAGE',
      opts.chip
        ? `the firmware has no ${opts.chip} build (it has ${builtFor(builds)})`
        : `the firmware has builds for ${builtFor(builds)}: say which with --chip`,
    );
  }
  const creds = credentialsFor(
    {
      broker: opts.broker,
      trust: opts.trust,
      ...(opts.wifi ? { wifi: opts.wifi } : {}),
      ...(opts.machine ? { machine: opts.machine } : {}),
      ...(opts.identity.kind === 'enroll' ? { enrollToken: opts.identity.token } : {}),
      ...(opts.releaseKeys ? { releaseKeys: opts.releaseKeys } : {}),
    },
    warn,
  );
  const summary: FlashSummary = {
    deviceId: opts.mac ? deviceIdFromMac(opts.mac) : null,
    provisioned: false,
    machineCode: opts.machine ?? null,
    mac: opts.mac ?? null,
    chip: null,
    outDir: null,
    dryRun: opts.dryRun,
    registeredLine: null,
    brokerApi: opts.identity.kind === 'provision' ? opts.identity.brokerApi : null,
  };
  const identity: DeviceIdentity =
    opts.identity.kind === 'provision'
      ? { kind: 'provision', registry: new ProvisioningClient(opts.identity.brokerApi, opts.identity.adminToken), reprovision: opts.identity.reprovision }
      : { kind: 'enroll', token: opts.identity.token };
  if (opts.dryRun) {
    if (opts.mac === undefined && identity.kind === 'enroll') progress.note('no --port or --mac: the device id is known once the chip is read');
    const request = { identity, erase: opts.erase, nvsOnly: opts.nvsOnly };
    await planWithoutChanges(request, opts.mac ?? '000000000000', creds, build, { log, reporter: progress, warn, onInterrupt: deps.onInterrupt });
    log.info({ device: summary.deviceId, machineCode: summary.machineCode }, 'dry run: nothing changed');
    return summary;
  }
  if (identity.kind === 'provision') {
    progress.step(`Registering MAC ${opts.mac} with ${summary.brokerApi}`);
    const provisioned = await identity.registry.register(opts.mac!, opts.machine, identity.reprovision);
    creds.id = provisioned.id;
    creds.secret = provisioned.secret;
    summary.deviceId = provisioned.id;
    summary.provisioned = true;
    progress.note(`${provisioned.reprovisioned ? 'new secret for' : 'registered as'} ${provisioned.id}`);
  } else {
    progress.step('Using an enrollment token: the device registers itself on first boot');
  }
  const images = imagesToWrite(build, nvsImageFor(creds, build), opts.nvsOnly);
  summary.outDir = writeImagesTo(opts.out!, build.chip.name, images, summary.deviceId, summary.machineCode);
  progress.step(`Wrote ${images.length} images and flash_args to ${summary.outDir}`);
  log.info({ dir: summary.outDir, images: images.map((i) => ({ name: i.name, offset: i.offset, size: i.data.length })) }, 'images written');
  return summary;
}
