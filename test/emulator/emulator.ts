// The ESP32 emulator process: sits on one end of a pty pair (socat) where a USB-serial port would
// be, and behaves like a board with an auto-reset circuit behind it. Usage:
//   node --import tsx test/emulator/emulator.ts --port PTY [--control SOCK] [--log FILE]
//     [--dump FILE] [--mac 24:0a:c4:12:34:56] [--chip esp32|esp32s3|esp32c3] [--initial app|download]
//     [--fail-writes-from ADDR] [--max-baud N] [--flash-size BYTES] [--app-output TEXT]
// Every command, signal change and boot is appended to --log as one JSON object per line. The
// flash is written to --dump when the process is told to stop (SIGTERM/SIGINT) and on {"dump"}.
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SerialPort } from 'serialport';
import { CHIPS, parseMac, W25Q32_JEDEC_ID } from './chip';
import { startControlServer } from './control-server';
import { EmulatedDevice } from './device';
import { DEFAULT_FLASH_SIZE } from './flash-memory';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    control: { type: 'string' },
    log: { type: 'string' },
    dump: { type: 'string' },
    mac: { type: 'string', default: '24:0a:c4:12:34:56' },
    chip: { type: 'string', default: 'esp32' },
    initial: { type: 'string', default: 'app' },
    'fail-writes-from': { type: 'string' },
    'max-baud': { type: 'string', default: '2000000' },
    'flash-size': { type: 'string', default: String(DEFAULT_FLASH_SIZE) },
    'app-output': { type: 'string', default: '' },
  },
});

function fail(message: string): never {
  process.stderr.write(`emulator: ${message}\n`);
  process.exit(2);
}

if (!args.port) fail('--port is required');
const identity = CHIPS[args.chip!] ?? fail(`unknown --chip ${args.chip} (known: ${Object.keys(CHIPS).join(', ')})`);
if (args.initial !== 'app' && args.initial !== 'download') fail('--initial must be app or download');

const started = Date.now();
function log(event: Record<string, unknown>): void {
  if (args.log) appendFileSync(args.log, `${JSON.stringify({ t: Date.now() - started, ...event })}\n`);
}

const port = new SerialPort({ path: args.port, baudRate: 115200, autoOpen: false });
await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));

const device = new EmulatedDevice(
  {
    identity,
    mac: parseMac(args.mac!),
    jedecId: W25Q32_JEDEC_ID,
    flashSize: Number(args['flash-size']),
    initial: args.initial,
    failWritesFrom: args['fail-writes-from'] ? Number(args['fail-writes-from']) : null,
    maxBaud: Number(args['max-baud']),
    appOutput: args['app-output']!.replace(/\\n/g, '\r\n'),
  },
  { write: (bytes) => port.write(bytes), log },
);
port.on('data', (bytes: Buffer) => device.receive(bytes));
port.on('error', (err) => log({ ev: 'port-error', message: err.message }));

if (args.control) {
  await startControlServer(
    args.control,
    async (msg) => {
      if ('signals' in msg) device.setLines(msg.signals);
      else if ('baud' in msg) device.setHostBaud(msg.baud);
      else {
        await device.idle();
        device.flash.dump(msg.dump);
      }
    },
    log,
  );
}

async function stop(): Promise<void> {
  await device.idle();
  if (args.dump) device.flash.dump(args.dump);
  log({ ev: 'exit' });
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

log({ ev: 'ready', chip: identity.name, mac: args.mac, initial: args.initial });
process.stdout.write('ready\n');
