// ESP32, ESP32-S3 and ESP32-C3 end to end: a release artefact written from fake build output for
// all three (as `npm run build:firmware -- --release` writes it), then `npm run flash` from that
// artefact alone, with no Moddable SDK in the environment, to the emulator answering as each chip.
// Each flash must hold exactly that chip's images, its bootloader where its ROM looks (0x1000 on the
// ESP32, 0x0 on the S3 and C3).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { parseArtefactManifest } from '../../host-tools/flash/artefact-manifest';
import { credentialEntries } from '../../host-tools/nvs/credentials';
import { buildNvsPartition } from '../../host-tools/nvs/writer';
import { writeFirmwareArtefact } from '../../scripts/firmware-artefact';
import { startRig } from '../emulator/rig';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { makeFakeBuild, type FakeBuild } from './fake-build';
import { errorLines, runFlashCli } from './run-flash';

const CHIPS = [
  { emulator: 'esp32', name: 'ESP32', bootloader: 0x1000 },
  { emulator: 'esp32s3', name: 'ESP32-S3', bootloader: 0x0 },
  { emulator: 'esp32c3', name: 'ESP32-C3', bootloader: 0x0 },
];
const BROKER = 'mqtt://fleet.example.com:1883';
const TOKEN = 'enroll-token-for-the-chip-tests';

interface Ctx {
  dir: string;
  artefact: string;
  builds: Record<string, FakeBuild>;
}

const test = suite<Ctx>('flash: three chips from a release artefact');

test.before((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-chips-'));
  ctx.artefact = join(ctx.dir, 'release');
  ctx.builds = {};
  for (const c of CHIPS) {
    ctx.builds[c.name] = makeFakeBuild(ctx.dir, { chip: c.name, name: c.emulator });
    writeFirmwareArtefact(ctx.builds[c.name]!.dir, ctx.artefact, { name: 'fleetbind', version: '1.2.3' });
  }
});

test.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

/** The flash an enrollment flash must leave: erased, each image at its place, nothing else. */
export function expectedFlash(build: FakeBuild, bootloaderOffset: number, nvs: Uint8Array): Buffer {
  const out = Buffer.alloc(4 * 1024 * 1024, 0xff);
  out.set(build.bootloader, bootloaderOffset);
  out.set(build.partitionTable, 0x8000);
  out.set(nvs, 0x9000);
  out.set(build.app, 0x10000);
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const at = a.findIndex((x, i) => x !== b[i]);
  return at < 0 ? 'none' : `0x${at.toString(16)}`;
}

test("the artefact is an ESP Web Tools manifest with one build per chip, parts at the chips' offsets", (ctx) => {
  const manifest = parseArtefactManifest(readFileSync(join(ctx.artefact, 'manifest.json'), 'utf8'), 'manifest.json');
  assert.is(manifest.name, 'fleetbind');
  assert.is(manifest.version, '1.2.3');
  assert.equal(
    manifest.builds.map((b) => [b.chipFamily, b.parts.map((p) => [p.path, p.offset])]),
    [
      [
        'ESP32',
        [
          ['esp32/bootloader.bin', 0x1000],
          ['esp32/partition-table.bin', 0x8000],
          ['esp32/xs_esp32.bin', 0x10000],
        ],
      ],
      [
        'ESP32-S3',
        [
          ['esp32s3/bootloader.bin', 0x0],
          ['esp32s3/partition-table.bin', 0x8000],
          ['esp32s3/xs_esp32.bin', 0x10000],
        ],
      ],
      [
        'ESP32-C3',
        [
          ['esp32c3/bootloader.bin', 0x0],
          ['esp32c3/partition-table.bin', 0x8000],
          ['esp32c3/xs_esp32.bin', 0x10000],
        ],
      ],
    ],
  );
  for (const b of manifest.builds) for (const p of b.parts) assert.ok(existsSync(join(ctx.artefact, p.path)), p.path);
});

for (const c of CHIPS) {
  test(`${c.name}: npm run flash from the artefact writes its images, bootloader at 0x${c.bootloader.toString(16)}`, async (ctx) => {
    requireTool('socat', 'socat');
    const rig = await startRig({ chip: c.emulator, mac: '24:0a:c4:cc:00:01' });
    try {
      const run = await runFlashCli(
        [
          '--port',
          rig.hostPath,
          '--broker',
          BROKER,
          '--insecure',
          '--enroll-token',
          TOKEN,
          '--wifi',
          'lab',
          '--psk',
          'lab-passphrase',
          '--build',
          ctx.artefact,
        ],
        {
          tap: rig.tapPath,
          env: { MODDABLE: '', IDF_PATH: '' },
        },
      );
      assert.is(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`using the ${c.name} build of ESP32, ESP32-S3, ESP32-C3`));
      const nvs = buildNvsPartition(credentialEntries({ ssid: 'lab', psk: 'lab-passphrase', broker: BROKER, enroll: TOKEN, insecure: '1' }), 0x6000);
      const expected = expectedFlash(ctx.builds[c.name]!, c.bootloader, nvs);
      const flash = await rig.flash();
      assert.ok(Buffer.from(flash).equals(expected), `flash differs first at ${firstDifference(flash, expected)}`);
      const md5 = rig
        .events()
        .filter((e) => e.ev === 'command' && e.op === 'SPI_FLASH_MD5')
        .map((e) => e.a);
      assert.equal(md5, [c.bootloader, 0x8000, 0x9000, 0x10000], 'every image verified where it was written');
      assert.ok(
        rig.events().some((e) => e.ev === 'boot' && e.mode === 'spi' && e.bootloader === true),
        'the ROM finds the bootloader after the reset',
      );
    } finally {
      await rig.stop();
    }
  });
}

test('a chip the artefact has no build for is refused before anything is uploaded to it', async (ctx) => {
  requireTool('socat', 'socat');
  const only = join(ctx.dir, 'esp32-only');
  writeFirmwareArtefact(ctx.builds.ESP32!.dir, only, { name: 'fleetbind', version: '1.2.3' });
  const rig = await startRig({ chip: 'esp32s3' });
  try {
    const run = await runFlashCli(['--port', rig.hostPath, '--broker', BROKER, '--insecure', '--enroll-token', TOKEN, '--build', only], { tap: rig.tapPath });
    assert.is(run.code, 1, run.stderr);
    assert.equal(errorLines(run).length, 1, run.stderr);
    assert.match(errorLines(run)[0]!, /is an ESP32-S3; this firmware is built for the ESP32$/);
    assert.not.ok(
      rig.events().some((e) => e.ev === 'command' && e.op === 'MEM_BEGIN'),
      'no stub uploaded',
    );
  } finally {
    await rig.stop();
  }
});

test("a dry run of a multi-chip artefact needs --chip, and writes that chip's images", async (ctx) => {
  const out = join(ctx.dir, 'dry');
  const without = await runFlashCli(['--out', out, '--broker', BROKER, '--insecure', '--enroll-token', TOKEN, '--build', ctx.artefact]);
  assert.is(without.code, 2, without.stderr);
  assert.match(errorLines(without)[0]!, /builds for ESP32, ESP32-S3, ESP32-C3: say which with --chip/);
  const run = await runFlashCli(['--out', out, '--chip', 'esp32c3', '--broker', BROKER, '--insecure', '--enroll-token', TOKEN, '--build', ctx.artefact]);
  assert.is(run.code, 0, run.stderr);
  const plan = JSON.parse(readFileSync(join(out, 'flash.json'), 'utf8')) as { chip: string; images: Array<{ name: string; offset: string }> };
  assert.is(plan.chip, 'ESP32-C3');
  assert.equal(
    plan.images.map((i) => [i.name, i.offset]),
    [
      ['bootloader', '0x0'],
      ['partition-table', '0x8000'],
      ['nvs', '0x9000'],
      ['app', '0x10000'],
    ],
  );
});

test.run();
