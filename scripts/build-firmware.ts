// npm run build:firmware -- [--target esp32/moddable_two] [--debug | --release] [--out DIR] [--fw VERSION] [--config KEY=VALUE]... (--help)
// A release build is the default; --release also writes a release artefact to DIR/release
// (scripts/firmware-artefact.ts). Wraps the Moddable SDK's mcconfig: builds the root
// manifest.json for one board (or lin, the desktop) and shows progress, without flashing (`npm
// run flash` writes the images). Needs $MODDABLE (the SDK with its host tools built) and, for
// ESP32, ESP-IDF in $IDF_PATH. Pin settings are checked against the board before anything is
// compiled.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { defineCli, readCli } from '../host-tools/cli/args';
import { RESERVED_PINS, pinConflicts, type BoardConfig } from './board-pins';
import { writeFirmwareArtefact } from './firmware-artefact';
import { BUILD_FILES } from '../host-tools/flash/firmware-images';
import { writeOtaRelease } from '../host-tools/release/ota-release';
import { isVersion } from '../protocol/ota';

const TARGETS = Object.keys(RESERVED_PINS);
const root = join(import.meta.dirname, '..');

const HOW_TO_INSTALL = `The Moddable SDK is not set up: $MODDABLE is not set. Building the firmware needs the SDK and, for ESP32, Espressif's ESP-IDF. Install them once as described in https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/Moddable%20SDK%20-%20Getting%20Started.md and https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/devices/esp32.md: clone https://github.com/Moddable-OpenSource/moddable to ~/Projects/moddable, export MODDABLE=~/Projects/moddable and add $MODDABLE/build/bin/lin/release to PATH, build the host tools with "cd $MODDABLE/build/makefiles/lin && make" (Debian/Ubuntu need gcc, make, libgtk-3-dev and libglib2.0-dev), then install the ESP-IDF version that documentation names into ~/esp32/esp-idf, run its install.sh, and "source $IDF_PATH/export.sh" in the shell you build from. Then run npm run build:firmware again.`;

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const { values } = readCli(
  defineCli({
    command: 'npm run build:firmware --',
    usage: ['[--target esp32/moddable_two] [--debug | --release] [--out DIR] [--fw VERSION] [--config KEY=VALUE]...'],
    summary:
      "Builds the firmware for one board (or lin, the desktop) with the Moddable SDK's mcconfig, without flashing it (npm run flash writes the images). A release build unless --debug. Needs $MODDABLE and, for ESP32, ESP-IDF in $IDF_PATH.",
    options: {
      target: {
        type: 'string',
        value: 'TARGET',
        default: 'esp32/moddable_two',
        help: `the board: ${TARGETS.join(', ')}; lin is the desktop build, run with the SDK's mcsim`,
      },
      debug: { type: 'boolean', default: false, help: 'a debug build (xsbug connection, instrumentation) instead of the default release build' },
      release: { type: 'boolean', default: false, help: 'also write a release artefact in DIR/release that npm run flash can write without the SDK' },
      config: {
        type: 'string',
        multiple: true,
        value: 'KEY=VALUE',
        help: "override one of the board's manifest settings: uartReceive=4, uartTransmit=5, uartDevice=/dev/ttyUSB0 (lin), led=none, mac=02fb00000001 (lin); pins the board uses for flash, PSRAM or its display are refused",
      },
      out: {
        type: 'string',
        value: 'DIR',
        default: 'dist/firmware',
        help: 'where mcconfig puts its build tree; the images land in DIR/bin/<target>/<debug|release>/fleetbind',
      },
      fw: { type: 'string', value: 'VERSION', help: 'the version the firmware reports (default package.json version + git commit)' },
      'min-version': {
        type: 'string',
        value: 'VERSION',
        help: "with --release: the update manifest's minVersion; a device that installs it refuses older releases afterwards",
      },
      notes: { type: 'string', value: 'TEXT', help: 'with --release: release notes for the update manifest' },
    },
  }),
);
const target = values.target;
if (!TARGETS.includes(target)) fail(`--target must be one of ${TARGETS.join(', ')}; got "${target}"`);
if (values.debug && values.release) fail('--debug and --release do not go together: the release artefact is made from a release build');
const lin = target === 'lin';
if (lin && values.release) fail('--release writes an ESP32 flashing artefact; the lin build has none');

const overrides: BoardConfig = {};
for (const pair of values.config ?? []) {
  const m = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(pair);
  if (!m) fail(`--config takes KEY=VALUE, got "${pair}"`);
  overrides[m[1]!] = m[2]!;
}
// The desktop has no MAC to read; one derived from the host name keeps its identity across builds.
if (lin && overrides.mac === undefined) overrides.mac = `02${createHash('sha256').update(hostname()).digest('hex').slice(0, 10)}`;

interface Manifest {
  config: BoardConfig;
  platforms: Record<string, { config?: BoardConfig }>;
}
const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as Manifest;
const board: BoardConfig = { ...manifest.config, ...manifest.platforms[target]?.config, ...overrides };
const conflicts = pinConflicts(target, board);
if (conflicts.length > 0) fail(`build:firmware: refusing the pin settings for ${target}:\n  ${conflicts.join('\n  ')}\nSee the wiring table in the README.`);

const moddable = process.env.MODDABLE;
if (!moddable) fail(HOW_TO_INSTALL);
if (!existsSync(join(moddable, 'tools', 'mcconfig.js')))
  fail(`$MODDABLE is ${moddable}, which is not a Moddable SDK checkout (no tools/mcconfig.js there). Point $MODDABLE at the SDK's root directory.`);

const hostDir = join(moddable, 'build', 'bin', process.platform === 'darwin' ? 'mac' : 'lin', 'release');
const PATH = [join(root, 'node_modules', '.bin'), hostDir, process.env.PATH ?? ''].join(delimiter);
const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH }, stdio: 'ignore' }).status === 0;
if (!onPath('mcconfig'))
  fail(
    `mcconfig is neither on PATH nor in ${hostDir}: the SDK's host tools are not built. Run "cd $MODDABLE/build/makefiles/${process.platform === 'darwin' ? 'mac' : 'lin'} && make".`,
  );
// The display font (Latin-1 and the currency signs) is rendered from the SDK's TrueType OpenSans at build time.
if (!process.env.FONTBM && !onPath('fontbm')) {
  fail(
    'fontbm is not on PATH (nor named by $FONTBM): mcconfig renders the display font with it from the SDK\'s OpenSans TrueType. Build it from https://github.com/vladimirgamalyan/fontbm (cmake, libfreetype-dev) and put it on PATH; see "Creating fonts for Moddable applications" in the SDK documentation.',
  );
}
if (!lin && (!process.env.IDF_PATH || !existsSync(join(process.env.IDF_PATH, 'tools', 'idf.py')))) {
  fail(
    `ESP-IDF is not set up${process.env.IDF_PATH ? ` ($IDF_PATH is ${process.env.IDF_PATH}, which has no tools/idf.py)` : ' ($IDF_PATH is not set)'}. Install the ESP-IDF version named in https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/devices/esp32.md and run "source $IDF_PATH/export.sh" before building.`,
  );
}

function defaultFw(): string {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const sha = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  return sha.status === 0 ? `${version}+${sha.stdout.trim()}` : version;
}
const fw = values.fw ?? defaultFw();
if (values.release && !isVersion(fw)) fail(`--release needs a version of the form x.y.z (optionally -pre or +build) for the update manifest; got "${fw}"`);
const out = resolve(root, values.out);
const variant = values.debug ? 'debug' : 'release';
// mcconfig puts the lin build under bin/lin/mc/<variant>.
const binDir = lin ? join(out, 'bin', 'lin', 'mc', variant, 'fleetbind') : join(out, 'bin', ...target.split('/'), variant, 'fleetbind');
mkdirSync(out, { recursive: true });

// mcconfig runs tsc from PATH; the project's own TypeScript goes first so it compiles what CI checks.
const args = [
  ...(values.debug ? ['-d'] : []),
  '-m',
  '-t',
  'build',
  '-o',
  out,
  '-p',
  target,
  join(root, 'manifest.json'),
  `fw=${fw}`,
  ...Object.entries(overrides).map(([k, v]) => `${k}=${String(v)}`),
];
console.log(`build:firmware: mcconfig ${args.join(' ')}`);

// Progress from the steps mcconfig's makefiles announce ("# tsc x.ts", "# xsc ...", ESP-IDF's "[n/m]").
const counts = { tsc: 0, xsc: 0, cc: 0 };
let stage = 'configuring';
let idf = '';
const tty = process.stdout.isTTY === true;
const started = Date.now();
const tail: string[] = [];
let shownStage = '';

/** On a terminal one updating line; otherwise a line per stage, and a heartbeat from the interval. */
function show(heartbeat = false): void {
  const line = `build:firmware [${((Date.now() - started) / 1000).toFixed(0)} s] ${stage}: tsc ${counts.tsc}, xsc ${counts.xsc}, cc ${counts.cc}${idf ? `, esp-idf ${idf}` : ''}`;
  if (tty) process.stdout.write(`\r${line}\x1b[K`);
  else if (heartbeat || stage !== shownStage) console.log(line);
  shownStage = stage;
}

function onLine(line: string): void {
  tail.push(line);
  if (tail.length > 40) tail.shift();
  let m: RegExpExecArray | null;
  if (line.startsWith('# tsc ')) [counts.tsc, stage] = [counts.tsc + 1, 'compiling TypeScript'];
  else if (line.startsWith('# xsc ')) [counts.xsc, stage] = [counts.xsc + 1, 'compiling to XS bytecode'];
  else if (line.startsWith('# xsl ')) stage = 'linking the XS archive';
  else if (line.startsWith('# cc ')) [counts.cc, stage] = [counts.cc + 1, 'compiling C'];
  else if ((m = /^\[(\d+)\/(\d+)\]/.exec(line))) [idf, stage] = [`${m[1]}/${m[2]}`, 'building with ESP-IDF'];
  else if (line.startsWith('# Reconfiguring ESP-IDF')) stage = 'configuring ESP-IDF';
  else return;
  show();
}

const child = spawn('mcconfig', args, { cwd: root, env: { ...process.env, PATH } });
for (const stream of [child.stdout, child.stderr]) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  });
}
const timer = setInterval(() => show(true), tty ? 1000 : 30_000);
child.on('error', (e) => fail(`could not run mcconfig: ${e.message}`));
child.on('close', (code) => {
  clearInterval(timer);
  if (tty) process.stdout.write('\n');
  if (code !== 0) fail(`build:firmware: mcconfig failed (exit ${code}) for ${target}; its last lines:\n${tail.join('\n')}`);
  console.log(`build:firmware: ${target} fw=${fw} built in ${((Date.now() - started) / 1000).toFixed(0)} s; images in ${binDir}:`);
  if (lin) console.log(`Run it with: $MODDABLE/build/bin/lin/release/mcsim ${join(binDir, 'mc.so')} (see the README's lin section for its preferences)`);
  for (const name of lin ? ['mc.so'] : ['bootloader.bin', 'partition-table.bin', 'xs_esp32.bin']) {
    const path = join(binDir, name);
    console.log(`  ${name.padEnd(20)} ${existsSync(path) ? `${statSync(path).size} bytes` : 'missing'}`);
  }
  if (values.release) {
    const artefact = writeFirmwareArtefact(binDir, join(out, 'release'), { name: 'fleetbind', version: fw });
    console.log(
      `build:firmware: release artefact for the ${artefact.build.chipFamily} in ${artefact.dir} (manifest.json; npm run flash -- --build ${artefact.dir})`,
    );
    const model = String(board.model);
    const ota = writeOtaRelease(readFileSync(join(binDir, BUILD_FILES.app)), join(out, 'release', 'ota', model), {
      version: fw,
      models: [model],
      ...(values['min-version'] === undefined ? {} : { minVersion: values['min-version'] }),
      ...(values.notes === undefined ? {} : { notes: values.notes }),
    });
    console.log(
      `build:firmware: update release ${fw} for ${model} in ${ota.dir} (app.bin, manifest.json); sign it with npm run release -- sign --dir ${ota.dir}`,
    );
  }
});
