// Command-line options of `npm run flash`, checked up front so that a mistake is reported before
// anything touches the device or the registry.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseMac, normaliseMachineCode } from '../../protocol/ids';
import { isProtocolError } from '../../protocol/errors';
import { ADMIN_TOKEN_ENV, brokerApiUrl } from '../api/connection';
import { ToolError } from '../api/errors';
import { defineCli, parseCli } from '../cli/args';
import { CHIP_FAMILIES } from './chips';
import { FlashError } from './errors';
import { checkTrust, isSecureBroker, MAX_CA_BYTES, type Trust, type TrustProblem } from './trust';

export type { Trust } from './trust';
import { wifiProblem } from './wifi';
import { publicKeyBase64 } from '../release/keys';

const root = join(import.meta.dirname, '..', '..');
/** Where `npm run build:firmware` puts its default target's images (scripts/build-firmware.ts). */
const BUILD_OUTPUT = join(root, 'dist', 'firmware', 'bin', 'esp32', 'moddable_two');

/** The release artefact if there is one, else the release build, else the debug build (build:firmware's default). */
export function defaultBuildDir(): string {
  const artefact = join(root, 'dist', 'firmware', 'release');
  if (existsSync(join(artefact, 'manifest.json'))) return artefact;
  const release = join(BUILD_OUTPUT, 'release', 'fleetbind');
  return existsSync(release) ? release : join(BUILD_OUTPUT, 'debug', 'fleetbind');
}
export const DEFAULT_BAUD = 921600;
const BAUD_RATES = [115200, 230400, 460800, 921600, 1500000, 2000000];

export type Identity = { kind: 'provision'; brokerApi: string; adminToken: string; reprovision: boolean } | { kind: 'enroll'; token: string };

export interface FlashOptions {
  /** Absent for --out and for a dry run without a device. */
  port?: string;
  /** --out DIR: write the images to a folder instead of a port (a real run: it provisions). */
  out?: string;
  /** --dry-run: say what would happen and change nothing: not the registry, the device or any file. */
  dryRun: boolean;
  /** The MAC to provision for without a port, where no chip is there to be asked. */
  mac?: string;
  /** Which build of a multi-chip artefact to use without a port (esptool-js's chip name). */
  chip?: string;
  machine?: string;
  /** Release public keys for firmware updates, written into NVS (`otakey`). */
  releaseKeys?: string;
  wifi?: { ssid: string; psk?: string };
  broker: string;
  trust: Trust;
  identity: Identity;
  build: string;
  erase: boolean;
  baud: number;
  nvsOnly: boolean;
  monitor: boolean;
  /** Give the device --wifi over Improv after flashing, rather than in its NVS. */
  improv: boolean;
}

export const FLASH_CLI = defineCli({
  command: 'npm run flash --',
  usage: [
    '--port PORT|auto (--broker mqtts://HOST:8883 --ca CA.pem | --broker mqtt://HOST:1883 --insecure) (--broker-api URL --admin-token T [--reprovision] | --enroll-token T) [options]',
    '--out DIR [--mac MAC] [--chip ESP32|ESP32-S3|ESP32-C3] ...   (write the images to DIR instead of a port)',
    '--dry-run (--port PORT | --mac MAC) ...   (say what would happen; change nothing anywhere)',
  ],
  summary: 'Flashes the firmware and a provisioning NVS partition onto an ESP32 over USB serial, and registers the device (or gives it an enrollment token).',
  options: {
    port: { type: 'string', value: 'PORT', help: 'the serial port of the device, such as /dev/ttyUSB0; auto takes the only USB serial port' },
    broker: { type: 'string', value: 'URL', help: 'the MQTT URL the device connects to: mqtt://, mqtts://, ws:// or wss://' },
    ca: { type: 'string', value: 'FILE', help: "with mqtts://: the PEM CA certificate the broker's certificate must chain to; the device trusts nothing else" },
    insecure: { type: 'boolean', default: false, help: 'with mqtt://: allow plain MQTT, so the device secret crosses the network in clear' },
    'broker-api': { type: 'string', value: 'URL', help: "register the device now through this broker's admin API" },
    'admin-token': { type: 'string', value: 'T', env: ADMIN_TOKEN_ENV, help: "an admin session token or the operator's admin token, for --broker-api" },
    reprovision: { type: 'boolean', default: false, help: 'give an already registered device a new secret' },
    'enroll-token': { type: 'string', value: 'T', help: 'instead of --broker-api: the device registers itself with this token on first boot' },
    machine: { type: 'string', value: 'CODE', help: 'the machine code printed on the label, such as CT0700026' },
    'release-key': {
      type: 'string',
      multiple: true,
      value: 'KEY',
      env: 'FLEETBIND_RELEASE_PUBLIC_KEY',
      help: 'a release public key the device trusts for firmware updates: base64 of 32 bytes, or the .pub file npm run release -- keygen wrote; repeat for several',
    },
    wifi: { type: 'string', value: 'SSID', help: 'the Wi-Fi network the device joins' },
    psk: { type: 'string', value: 'PSK', help: 'its passphrase (8 to 63 characters) or 64 hex digits' },
    build: {
      type: 'string',
      value: 'DIR',
      help: "a Moddable build folder or a release artefact (its folder or manifest.json, from npm run build:firmware -- --release); default npm run build:firmware's output: the artefact in dist/firmware/release, else dist/firmware/bin/esp32/moddable_two/release/fleetbind, else .../debug/fleetbind",
    },
    erase: { type: 'boolean', default: false, help: 'erase the whole flash first' },
    baud: { type: 'string', value: 'RATE', default: String(DEFAULT_BAUD), help: `serial speed while flashing: ${BAUD_RATES.join(', ')}` },
    'nvs-only': { type: 'boolean', default: false, help: 'write only the NVS partition (new credentials or Wi-Fi), not the firmware' },
    monitor: { type: 'boolean', default: false, help: "after flashing, follow the device's console until it is online" },
    improv: { type: 'boolean', default: false, help: 'after flashing, give the device --wifi over Improv Wi-Fi (serial) instead of writing it into its NVS' },
    'dry-run': {
      type: 'boolean',
      default: false,
      help: 'say what would be registered and written, and change nothing: not the registry, the device or any file',
    },
    out: { type: 'string', value: 'DIR', help: 'write the images to DIR instead of flashing a device (a real run: with --broker-api it registers the device)' },
    mac: { type: 'string', value: 'MAC', help: 'without --port (--out, --dry-run): the MAC to provision for' },
    chip: {
      type: 'string',
      value: 'CHIP',
      help: `without --port: which build of a multi-chip artefact to use: ${CHIP_FAMILIES.map((c) => c.name).join(', ')}`,
    },
  },
});

function usage(message: string): FlashError {
  return new FlashError('USAGE', message);
}

/** A release public key as the device stores it: base64 of its 32 bytes, given as such or as keygen's .pub file. */
function releaseKeyOption(text: string): string {
  const value = existsSync(text) ? readFileSync(text, 'utf8').trim() : text.trim();
  try {
    return publicKeyBase64(value);
  } catch (e) {
    throw usage(`--release-key ${JSON.stringify(text.slice(0, 64))}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** esp32s3, ESP32-S3 and esp32-s3 all name the ESP32-S3. */
function chipOption(text: string): string {
  const wanted = text.toLowerCase().replace(/-/g, '');
  const chip = CHIP_FAMILIES.find((c) => c.name.toLowerCase().replace(/-/g, '') === wanted);
  if (!chip) throw usage(`--chip must be one of ${CHIP_FAMILIES.map((c) => c.name).join(', ')}, got ${JSON.stringify(text)}`);
  return chip.name;
}

/** The device refuses plain MQTT unless told `insecure=1`, and trusts only the CA it is given. */
function trustFor(broker: string, caPath: string | undefined, insecure: boolean): Trust {
  let pem: string | undefined;
  if (caPath !== undefined && !insecure && isSecureBroker(broker)) {
    try {
      pem = readFileSync(caPath, 'utf8');
    } catch (e) {
      throw usage(`--ca: cannot read ${caPath}: ${(e as Error).message}`);
    }
  } else if (caPath !== undefined) {
    // Refused below whatever the file holds; only that one was given counts.
    pem = '';
  }
  const trust = checkTrust(broker, pem, insecure);
  if (typeof trust !== 'string') return trust;
  const problems: Record<TrustProblem, string> = {
    'ca-and-insecure': 'use either --ca (TLS) or --insecure (plain MQTT), not both',
    'ca-on-plain': '--ca goes with an mqtts:// --broker; this one is plain',
    'plain-not-allowed': 'a plain --broker sends the device secret in clear: use mqtts:// with --ca CA.pem, or say --insecure',
    'no-ca': 'an mqtts:// --broker needs --ca CA.pem: the device trusts only the CA certificate it is given',
    'not-pem': `--ca: ${caPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    'ca-too-big': `--ca: ${caPath} is ${pem === undefined ? 0 : Buffer.byteLength(pem)} bytes; NVS strings hold at most ${MAX_CA_BYTES}, so give only the CA certificate`,
  };
  throw usage(problems[trust]);
}

function brokerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`--broker must be a URL such as mqtt://broker.example.com:1883, got ${JSON.stringify(text)}`);
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol)) throw usage('--broker must be an mqtt://, mqtts://, ws:// or wss:// URL');
  return text;
}

export function parseFlashOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): FlashOptions {
  let values;
  try {
    ({ values } = parseCli(FLASH_CLI, argv, env));
  } catch (e) {
    if (e instanceof ToolError) throw usage(e.message);
    throw e;
  }

  if (values.port && values.out) throw usage('use either --port (flash a device) or --out DIR (write the images to a folder), not both');
  if (values['dry-run'] && values.out) throw usage('--dry-run writes nothing, so it takes no --out DIR');
  const portless = values.out !== undefined || (values['dry-run'] && !values.port);
  if (!values.port && !portless) throw usage('no serial port: pass --port /dev/ttyUSB0 (or --out DIR, or --dry-run)');
  if (values.mac && !portless) throw usage('--mac is only for --out or --dry-run without a port; with --port the MAC is read from the chip');
  if (values.chip && !portless) throw usage('--chip is only for --out or --dry-run without a port; with --port the chip is read from its ROM');
  if (values.monitor && (portless || values['dry-run'])) throw usage('--monitor needs a device being flashed; it cannot be used with --out or --dry-run');
  if (values['nvs-only'] && values.erase) throw usage('--erase with --nvs-only would leave the device without firmware; use one of them');
  if (values.improv && (portless || values['dry-run'] || values.wifi === undefined))
    throw usage('--improv needs a device (--port) and the network to give it (--wifi SSID [--psk PSK])');

  if (!values.broker) throw usage('--broker is required: the MQTT URL the device connects to, such as mqtt://broker.example.com:1883');
  if (values.psk !== undefined && values.wifi === undefined) throw usage('--psk given without --wifi SSID');
  if (values.wifi !== undefined) {
    const problem = wifiProblem(values.wifi, values.psk);
    if (problem) throw usage(problem.startsWith('an SSID') ? `--wifi: ${problem}` : `--psk: ${problem}`);
  }

  const adminToken = values['admin-token'];
  let identity: Identity;
  if (values['enroll-token'] !== undefined) {
    if (values['broker-api'] !== undefined) throw usage('use either --enroll-token (the device registers itself) or --broker-api (register it now), not both');
    if (values.reprovision) throw usage('--reprovision needs --broker-api and an admin token');
    if (values['enroll-token'].trim() === '') throw usage('--enroll-token is empty');
    identity = { kind: 'enroll', token: values['enroll-token'] };
  } else if (values['broker-api'] !== undefined) {
    if (!adminToken) throw usage(`--broker-api needs an admin token: --admin-token T or $${ADMIN_TOKEN_ENV}`);
    let brokerApi: string;
    try {
      brokerApi = brokerApiUrl(values['broker-api']);
    } catch (e) {
      if (e instanceof ToolError) throw usage(e.message);
      throw e;
    }
    identity = { kind: 'provision', brokerApi, adminToken, reprovision: values.reprovision };
  } else {
    throw usage('say how the device gets its identity: --broker-api URL --admin-token T (register it now) or --enroll-token T (it registers on first boot)');
  }

  const baud = Number(values.baud);
  if (!BAUD_RATES.includes(baud)) throw usage(`--baud must be one of ${BAUD_RATES.join(', ')}`);

  let machine: string | undefined;
  let mac: string | undefined;
  try {
    if (values.machine !== undefined) machine = normaliseMachineCode(values.machine);
    if (values.mac !== undefined) mac = normaliseMac(values.mac);
  } catch (e) {
    if (isProtocolError(e)) throw usage(`${e.field === 'mac' ? '--mac' : '--machine'}: ${e.message}`);
    throw e;
  }
  if (portless && identity.kind === 'provision' && !mac) {
    throw usage(`${values.out ? '--out' : '--dry-run'} with --broker-api needs --mac: the registry keys devices by MAC`);
  }

  const broker = brokerUrl(values.broker);
  const options: FlashOptions = {
    broker,
    trust: trustFor(broker, values.ca, values.insecure),
    identity,
    build: values.build ?? defaultBuildDir(),
    erase: values.erase,
    baud,
    nvsOnly: values['nvs-only'],
    monitor: values.monitor,
    improv: values.improv,
    dryRun: values['dry-run'],
  };
  if (values.port) options.port = values.port;
  if (values.out) options.out = values.out;
  if (mac) options.mac = mac;
  if (values.chip !== undefined) options.chip = chipOption(values.chip);
  if (machine) options.machine = machine;
  const releaseKeys = (values['release-key'] ?? []).map(releaseKeyOption);
  if (releaseKeys.length > 0) options.releaseKeys = releaseKeys.join(',');
  if (values.wifi !== undefined) options.wifi = values.psk === undefined ? { ssid: values.wifi } : { ssid: values.wifi, psk: values.psk };
  return options;
}

export const IMPROV_CLI = defineCli({
  command: 'npm run flash -- improv',
  usage: ['--port PORT|auto --wifi SSID [--psk PSK]'],
  summary:
    'Gives a device running the fleetbind firmware its Wi-Fi network over Improv Wi-Fi (serial), without flashing; it joins at once and keeps the network.',
  options: {
    port: { type: 'string', value: 'PORT', required: true, help: 'the serial port of the device, such as /dev/ttyUSB0; auto takes the only USB serial port' },
    wifi: { type: 'string', value: 'SSID', required: true, help: 'the Wi-Fi network the device joins' },
    psk: { type: 'string', value: 'PSK', help: 'its passphrase (8 to 63 characters) or 64 hex digits; none for an open network' },
    timeout: { type: 'string', value: 'S', default: '60', help: 'how long to wait for the device to answer and join, in seconds' },
  },
});

export interface ImprovOptions {
  port: string;
  wifi: { ssid: string; psk: string };
  timeoutMs: number;
}

export function parseImprovOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ImprovOptions {
  let values;
  try {
    ({ values } = parseCli(IMPROV_CLI, argv, env));
  } catch (e) {
    if (e instanceof ToolError) throw usage(e.message);
    throw e;
  }
  const problem = wifiProblem(values.wifi!, values.psk);
  if (problem) throw usage(problem.startsWith('an SSID') ? `--wifi: ${problem}` : `--psk: ${problem}`);
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw usage(`--timeout must be a number of seconds, got ${JSON.stringify(values.timeout)}`);
  return { port: values.port!, wifi: { ssid: values.wifi!, psk: values.psk ?? '' }, timeoutMs: timeout * 1000 };
}
