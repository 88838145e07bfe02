// build:firmware's own checks, which run before the Moddable SDK is needed: its help, the
// targets it takes (lin included), and pin settings that would collide with what the board
// already uses (flash, PSRAM, display) refused before anything is compiled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RESERVED_PINS, pinConflicts } from '../../scripts/board-pins';
import { runNpmScript } from '../helpers/npm-script';

const test = suite('build:firmware');
const noSdk = { MODDABLE: undefined, IDF_PATH: undefined };
const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'manifest.json'), 'utf8')) as {
  config: Record<string, unknown>;
  platforms: Record<string, { config?: Record<string, unknown> }>;
};

test('--help names every target, release by default and --debug', async () => {
  const r = await runNpmScript('build:firmware', ['--help'], noSdk);
  assert.is(r.code, 0, r.stderr);
  for (const target of Object.keys(RESERVED_PINS)) assert.ok(r.stdout.includes(target), `help names ${target}`);
  assert.match(r.stdout, /--debug +a debug build .* instead of the default release build/);
});

test('every board the manifest defines is a target, and its own pins pass the check', () => {
  const boards = Object.keys(manifest.platforms).filter((p) => p !== '...');
  for (const board of boards) assert.ok(RESERVED_PINS[board], `${board} has a pin table`);
  for (const board of boards) assert.equal(pinConflicts(board, { ...manifest.config, ...manifest.platforms[board]!.config }), [], board);
});

test('the WROVER PSRAM pins, the flash pins, a display pin and a doubled pin are refused', () => {
  const fire = { ...manifest.config, ...manifest.platforms['esp32/m5stack_fire']!.config };
  assert.equal(pinConflicts('esp32/m5stack_fire', { ...fire, uartReceive: 16, uartTransmit: 17 }), [
    'uartReceive=16: GPIO 16 is the PSRAM (WROVER module) on esp32/m5stack_fire',
    'uartTransmit=17: GPIO 17 is the PSRAM (WROVER module) on esp32/m5stack_fire',
  ]);
  assert.match(pinConflicts('esp32', { uartReceive: 9, uartTransmit: 17, led: 'none' }).join(), /GPIO 9 is the SPI flash/);
  assert.match(pinConflicts('esp32/moddable_two', { uartReceive: 16, uartTransmit: 17, led: 2 }).join(), /led=2: GPIO 2 is the display DC/);
  assert.match(pinConflicts('esp32', { uartReceive: 4, uartTransmit: 4 }).join(), /uartTransmit=4: GPIO 4 is also the UART RX/);
  assert.match(pinConflicts('esp32', { uartReceive: 4, uartTransmit: 36 }).join(), /GPIO 36 is input-only/);
  assert.match(pinConflicts('lin', { uartReceive: 16 }).join(), /no GPIO; give the UART as uartDevice=/);
});

test('a refused pin stops the build before the SDK is even looked for', async () => {
  const r = await runNpmScript('build:firmware', ['--target', 'esp32/m5stack_fire', '--config', 'uartReceive=16', '--config', 'uartTransmit=17'], noSdk);
  assert.is(r.code, 1);
  assert.match(r.stderr, /refusing the pin settings for esp32\/m5stack_fire:\n {2}uartReceive=16: GPIO 16 is the PSRAM/);
  assert.not.match(r.stderr, /MODDABLE/);
});

test('lin is a target; without the SDK it says how to set it up', async () => {
  const r = await runNpmScript('build:firmware', ['--target', 'lin'], noSdk);
  assert.is(r.code, 1);
  assert.match(r.stderr, /The Moddable SDK is not set up: \$MODDABLE is not set/);
  const bad = await runNpmScript('build:firmware', ['--target', 'esp8266'], noSdk);
  assert.match(bad.stderr, /--target must be one of esp32, .*lin; got "esp8266"/);
});

test.run();
