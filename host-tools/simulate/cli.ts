// npm run simulate -- --devices N ... (SIMULATE_CLI below lists the options).
// Runs N instances of the real firmware core against a local broker and shows their progress.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { defineCli, readCli } from '../cli/args';
import { logStream } from '../cli/log-stream';
import { parseBrokerAddress } from '../../firmware/core/broker-address';
import { DEFAULT_CORE_OPTIONS } from '../../firmware/core/core-options';
import { PRINTER_DEFAULTS, type PrinterOptions } from './sim-printer';
import { SimFleet } from './fleet';
import { openImprovSerial, type ImprovSerial } from './sim-improv';
import { deadEnd, progressLine, summary } from './progress';

const LOCAL_HOSTS = ['127.0.0.1', 'localhost', '::1'];
/** With --chaos, each device loses its Wi-Fi or its connection about this often. */
const CHAOS_MEAN_MS = 30_000;

function fail(message: string): never {
  process.stderr.write(`simulate: ${message}\n`);
  process.exit(2);
}

function number(name: string, raw: string | undefined, min: number, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) fail(`--${name} is required`);
    return fallback;
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) fail(`--${name} must be a number of at least ${min}, got '${raw}'`);
  return v;
}

const SIMULATE_CLI = defineCli({
  command: 'npm run simulate --',
  usage: ['--devices N [--enroll-token T | --state-dir DIR] [options]'],
  summary: 'Runs N copies of the real firmware core against a broker on this machine and shows their progress: Wi-Fi, enrollment, connection, claim.',
  options: {
    devices: { type: 'string', value: 'N', required: true, help: 'how many devices to simulate' },
    broker: {
      type: 'string',
      value: 'URL',
      default: 'mqtt://127.0.0.1:1883',
      help: "the broker's MQTT address, mqtt:// (the devices get insecure=1) or mqtts:// with --ca; must be on this machine",
    },
    ca: { type: 'string', value: 'FILE', help: 'with an mqtts:// --broker: the PEM CA certificate the devices trust, and nothing else' },
    'enroll-token': {
      type: 'string',
      value: 'T',
      help: 'enrollment token new devices register with (an admin creates one: npm run fleet -- enroll-token create --uses N --expires 1h)',
    },
    'machines-prefix': { type: 'string', value: 'PREFIX', default: 'SIM-', help: 'machine codes are PREFIX plus a number' },
    'state-dir': { type: 'string', value: 'DIR', help: "keep each device's credentials here, so a later run reconnects as the same devices" },
    'png-dir': { type: 'string', value: 'DIR', help: "write each device's claim QR code here as a PNG" },
    chaos: { type: 'boolean', default: false, help: 'drop Wi-Fi and connections at random (about every 30 s per device)' },
    duration: { type: 'string', value: 'S', help: 'stop after S seconds and print the summary (default: run until Ctrl-C)' },
    ramp: { type: 'string', value: 'S', default: '0', help: 'start the devices spread over S seconds' },
    'log-level': { type: 'string', value: 'LEVEL', default: 'warn', help: 'pino level of the JSON log on stderr' },
    'improv-serial': {
      type: 'string',
      value: 'PATH',
      help: 'the first device starts without Wi-Fi settings and answers Improv Wi-Fi on this serial port (a pty from socat), for npm run flash -- improv',
    },
    'access-point': { type: 'string', value: 'SSID:PSK', help: 'the only Wi-Fi network the simulated devices can join (default: any)' },
    printer: {
      type: 'boolean',
      default: false,
      help: 'each device drives a printer on its UART that uses ink and may jam; the firmware reports its state (serial.send "PRINT 5\\n" prints five pages)',
    },
    'jam-probability': { type: 'string', value: 'P', help: `with --printer: chance (0-1) that a print job jams (default ${PRINTER_DEFAULTS.jamProbability})` },
    'ink-per-page': { type: 'string', value: 'N', help: `with --printer: ink percentage points a page uses (default ${PRINTER_DEFAULTS.inkPerPage})` },
  },
});
const args = readCli(SIMULATE_CLI).values;

const devices = Math.floor(number('devices', args.devices, 1));
const durationS = args.duration === undefined ? undefined : number('duration', args.duration, 1);
const rampS = number('ramp', args.ramp, 0, 0);
const address = parseBrokerAddress(args.broker);
if (address === null) fail(`--broker must look like mqtt://127.0.0.1:1883, got '${args.broker}'`);
if (address.secure !== (args.ca !== undefined))
  fail('--ca FILE goes with an mqtts:// --broker, and an mqtts:// --broker needs --ca: devices trust only the CA they are given');
const ca = ((): string | undefined => {
  if (args.ca === undefined) return undefined;
  try {
    return readFileSync(args.ca, 'utf8');
  } catch (e) {
    fail(`--ca: cannot read ${args.ca}: ${(e as Error).message}`);
  }
})();
// A fleet of simulated devices is a load generator; it only ever points at a broker on this machine.
if (!LOCAL_HOSTS.includes(address.host)) fail(`--broker must be on this machine (${LOCAL_HOSTS.join(', ')}), got '${address.host}'`);

const log = pino({ level: args['log-level'], base: { svc: 'simulate' } }, logStream(2, { sync: true }));
const tty = process.stdout.isTTY === true;
let lineShown = false;
/** Writes above the live progress line, which is redrawn on the next tick. */
function print(text: string): void {
  if (tty && lineShown) process.stdout.write('\r\x1b[K');
  lineShown = false;
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

const printer: PrinterOptions = {
  ...PRINTER_DEFAULTS,
  ...(args['jam-probability'] === undefined ? {} : { jamProbability: number('jam-probability', args['jam-probability'], 0, 0) }),
  ...(args['ink-per-page'] === undefined ? {} : { inkPerPage: number('ink-per-page', args['ink-per-page'], 0, 0) }),
};
if (printer.jamProbability > 1) fail('--jam-probability must be from 0 to 1');

let accessPoint: { ssid: string; psk: string } | undefined;
if (args['access-point'] !== undefined) {
  const colon = args['access-point'].indexOf(':');
  accessPoint =
    colon < 0 ? { ssid: args['access-point'], psk: '' } : { ssid: args['access-point'].slice(0, colon), psk: args['access-point'].slice(colon + 1) };
  if (accessPoint.ssid === '') fail('--access-point needs an SSID: SSID or SSID:PSK');
}
let improvSerial: ImprovSerial | undefined;
let fleet: SimFleet;
if (args['improv-serial'] !== undefined) {
  try {
    improvSerial = await openImprovSerial(
      args['improv-serial'],
      () => fleet?.devices[0]?.improv ?? null,
      (err) => log.error({ err }, 'Improv serial port failed'),
    );
  } catch (e) {
    fail((e as Error).message);
  }
}
try {
  fleet = new SimFleet({
    devices,
    broker: `${address.secure ? 'mqtts' : 'mqtt'}://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`,
    ...(ca === undefined ? {} : { ca }),
    machinesPrefix: args['machines-prefix'],
    log,
    print,
    rampMs: rampS * 1000,
    ...(args['enroll-token'] ? { enrollToken: args['enroll-token'] } : {}),
    ...(args['state-dir'] ? { stateDir: args['state-dir'] } : {}),
    ...(args['png-dir'] ? { pngDir: args['png-dir'] } : {}),
    ...(args.chaos ? { chaosMeanMs: CHAOS_MEAN_MS } : {}),
    ...(accessPoint ? { accessPoint } : {}),
    ...(improvSerial ? { improvSend: improvSerial.write } : {}),
    ...(args.printer ? { printer } : {}),
  });
} catch (e) {
  fail((e as Error).message);
}
const missing = fleet.unprovisioned();
if (missing.length > 0) {
  fail(
    `${missing.length} device(s) (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}) have neither credentials nor an enrollment token. ` +
      'Pass --enroll-token (an admin creates one with POST /api/enrollment-tokens {"uses":N,"expiresIn":3600,"allowMachineCodes":true}, so they may announce their machine codes), or --state-dir of a run in which they registered.',
  );
}

print(`simulate: ${devices} device(s) -> ${args.broker}${args.chaos ? ' with chaos' : ''}${args['png-dir'] ? `, QR codes to ${args['png-dir']}` : ''}`);
const started = Date.now();
fleet.start();
const allReadyMs = (): number | null => (fleet.allConnectedAt === null ? null : fleet.allConnectedAt - started);

const tick = setInterval(
  () => {
    const stats = fleet.stats();
    const stuck = deadEnd(stats, args.broker, DEFAULT_CORE_OPTIONS.enrollReplyTimeoutMs);
    if (stuck !== null) return finish(stuck);
    const line = progressLine(stats, Date.now() - started);
    if (tty) {
      process.stdout.write(`\r${line}\x1b[K`);
      lineShown = true;
    } else {
      console.log(line);
    }
  },
  tty ? 250 : 5000,
);

let finished = false;
/** Ends the run with its summary; `failure` is why it could not get anywhere (exit 1). */
function finish(failure?: string): void {
  if (finished) return;
  finished = true;
  clearInterval(tick);
  const s = fleet.stats();
  fleet.stop();
  void improvSerial?.close();
  print(`\n${summary(s, { elapsedMs: Date.now() - started, allReadyMs: allReadyMs() })}`);
  if (failure !== undefined) process.stderr.write(`simulate: ${failure}\n`);
  // Also the code when the loop empties before the timer below fires.
  process.exitCode = failure === undefined ? 0 : 1;
  // Once the devices' state is on disk (--state-dir), sockets close asynchronously: give
  // DISCONNECTs a moment to leave, then exit.
  void fleet
    .saved()
    .catch((err: unknown) => {
      process.stderr.write(`simulate: ${(err as Error).message}\n`);
      process.exitCode = 1;
    })
    .then(() => setTimeout(() => process.exit(), 500).unref());
}
if (durationS !== undefined) setTimeout(() => finish(), durationS * 1000);
process.on('SIGINT', () => finish());
process.on('SIGTERM', () => finish());
