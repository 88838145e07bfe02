// The lin build's model of the ESP32's app slots and the bootloader's rollback
// (firmware/platform/lin/ota-trial.c; docs/architecture.md, Over-the-air updates), compiled with
// the host's C compiler against a few lines standing in for XS (model/xsmc.h) and driven one step
// per process (model/driver.c): a restart really re-executes the program on the image the model
// picks. This runs the model where no Moddable SDK exists; `npm run test:lin` runs it inside the
// real simulator.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';

const here = import.meta.dirname;
const root = join(here, '..', '..');
const test = suite<{ dir: string; driver: string; otaDir: string }>('lin OTA model (bootloader and slots)', { dir: '', driver: '', otaDir: '' });

test.before((c) => {
  requireTool('cc', 'gcc');
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-ota-model-'));
  c.driver = join(c.dir, 'driver');
  c.otaDir = join(c.dir, 'ota');
  execFileSync('cc', [
    '-Wall',
    '-Wextra',
    '-Wno-unused-parameter',
    '-Werror',
    '-I',
    join(here, 'model'),
    '-o',
    c.driver,
    join(here, 'model', 'driver.c'),
    join(root, 'firmware', 'platform', 'lin', 'ota-trial.c'),
  ]);
  // The image the simulator was started on; its path is what the first boot records as slot 0.
  writeFileSync(join(c.dir, 'factory.so'), '\x7fELF factory');
});
test.after((c) => {
  rmSync(c.dir, { recursive: true, force: true });
});

/** One step of the firmware, as a process running `running` (an mc.so); returns what it printed. */
function step(c: { dir: string; driver: string; otaDir: string }, running: string, ...args: string[]): { code: number | null; out: string } {
  const { FLEETBIND_MODEL_RESTARTED: _restarted, ...env } = process.env;
  const r = spawnSync(c.driver, [...args, running], { env: { ...env, FLEETBIND_OTA_DIR: c.otaDir }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim() };
}

function image(c: { dir: string }, name: string, elf = true): string {
  const path = join(c.dir, name);
  writeFileSync(path, Buffer.concat([Buffer.from(elf ? '\x7fELF' : 'MZ\x90\x00', 'latin1'), Buffer.alloc(5_000, name)]));
  return path;
}

const otadata = (c: { otaDir: string }): string[] => readFileSync(join(c.otaDir, 'otadata'), 'utf8').trim().split('\n');

test('an installed image boots on trial, confirms, and a later one that never confirms or rolls back brings it back', (c) => {
  const factory = join(c.dir, 'factory.so');
  const slot0 = join(c.otaDir, 'slot0.so');
  const slot1 = join(c.otaDir, 'slot1.so');
  assert.equal(step(c, factory, 'on-trial'), { code: 0, out: 'not on trial' });
  assert.equal(otadata(c), ['boot 0', 'running 0', `slot0 valid ${factory}`, 'slot1 empty -'], 'the first boot records the running image as slot 0, valid');
  assert.equal(step(c, factory, 'capacity'), { code: 0, out: String(16 * 1024 * 1024) });

  // Written and completed: new, and the boot slot; the restart boots it on trial.
  const v2 = image(c, 'v2.bin');
  assert.equal(step(c, factory, 'install', v2), { code: 0, out: 'installed' });
  assert.equal(otadata(c), ['boot 1', 'running 0', `slot0 valid ${factory}`, `slot1 new ${slot1}`]);
  assert.equal(readFileSync(slot1), readFileSync(v2), 'the slot holds the bytes written');
  assert.equal(step(c, factory, 'restart'), { code: 0, out: `booted ${slot1} on trial` });
  assert.equal(otadata(c), ['boot 1', 'running 1', `slot0 valid ${factory}`, `slot1 pending-verify ${slot1}`]);
  assert.equal(step(c, slot1, 'mark-valid'), { code: 0, out: 'valid' });
  assert.equal(step(c, slot1, 'on-trial'), { code: 0, out: 'not on trial' });
  assert.equal(step(c, slot1, 'restart'), { code: 0, out: `booted ${slot1}` }, 'a confirmed image stays');

  // An image restarted while still on trial (it never reached the broker) is aborted by the
  // bootloader, which boots the previous valid image.
  assert.equal(step(c, slot1, 'install', image(c, 'v3.bin')), { code: 0, out: 'installed' });
  assert.equal(step(c, slot1, 'restart'), { code: 0, out: `booted ${slot0} on trial` });
  assert.equal(step(c, slot0, 'restart'), { code: 0, out: `booted ${slot1}` });
  assert.equal(otadata(c), ['boot 1', 'running 1', `slot0 aborted ${slot0}`, `slot1 valid ${slot1}`]);

  // The firmware's own rollback: the running image is marked invalid and the other one boots.
  assert.equal(step(c, slot1, 'install', image(c, 'v4.bin')), { code: 0, out: 'installed' });
  assert.equal(step(c, slot1, 'restart'), { code: 0, out: `booted ${slot0} on trial` });
  assert.equal(step(c, slot0, 'rollback'), { code: 0, out: `booted ${slot1}` });
  assert.equal(otadata(c), ['boot 1', 'running 1', `slot0 invalid ${slot0}`, `slot1 valid ${slot1}`]);
  assert.equal(step(c, slot1, 'mark-valid'), { code: 0, out: 'valid' }, 'marking a valid image valid again changes nothing');
});

test('nothing unfinished becomes bootable: a cancelled, short, oversized or foreign image leaves the running one to boot', (c) => {
  const running = join(c.otaDir, 'slot1.so');
  const before = otadata(c);
  assert.equal(step(c, running, 'install-cancelled', image(c, 'half.bin')), { code: 0, out: 'cancelled' });
  assert.equal(otadata(c), ['boot 1', 'running 1', 'slot0 empty -', before[3]!], 'beginning a write empties the slot, as esp_ota_begin erases it');
  assert.equal(step(c, running, 'install-short', image(c, 'short.bin')), { code: 3, out: 'Error: the image has 5004 of its 5014 bytes' });
  assert.equal(step(c, running, 'install-oversize', image(c, 'long.bin')), { code: 3, out: 'RangeError: the image is longer than the 5003 bytes begun' });
  const foreign = step(c, running, 'install', image(c, 'foreign.bin', false));
  assert.is(foreign.code, 3);
  assert.match(foreign.out, /slot0\.so is not an image this simulator can run/);
  assert.equal(otadata(c), ['boot 1', 'running 1', 'slot0 empty -', before[3]!]);
  assert.equal(step(c, running, 'restart'), { code: 0, out: `booted ${running}` });
  assert.equal(step(c, running, 'rollback'), { code: 3, out: 'Error: no valid image to roll back to' });
});

test.run();
