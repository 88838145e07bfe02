// The release side of firmware updates (docs/architecture.md, Over-the-air updates), on the
// fake-build path CI runs: pack an update release from a build's app image, sign it with a key
// from a file or $FLEETBIND_RELEASE_KEY (never one inside the broker's data dir), verify it, and
// write the public key into the device's NVS at flash time. With $MODDABLE and $IDF_PATH set the
// same steps run over a real build:firmware -- --release; otherwise that test is left out with
// the reason printed.
import { verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { publicKeyFromBase64 } from '../../host-tools/release/keys';
import { readOtaRelease } from '../../host-tools/release/ota-release';
import { parseManifestText } from '../../protocol/ota';
import { runNpmScript } from '../helpers/npm-script';
import { makeFakeBuild } from './fake-build';

const test = suite('release tooling (fake build)');
const tmp = mkdtempSync(join(tmpdir(), 'fb-release-'));
const build = makeFakeBuild(tmp);
const keyFile = join(tmp, 'keys', 'release.pem');
mkdirSync(join(tmp, 'keys'));
const dataDir = join(tmp, 'data');
mkdirSync(dataDir);
const relDir = join(tmp, 'rel');

process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const release = (args: string[], env: Record<string, string | undefined> = {}) =>
  runNpmScript('release', args, { FLEETBIND_RELEASE_KEY: undefined, FLEETBIND_DATA_DIR: dataDir, ...env });

test('keygen writes a private key (mode 600) and its public key; it never overwrites one', async () => {
  const r = await release(['keygen', '--out', keyFile]);
  assert.is(r.code, 0, r.stderr);
  assert.is(statSync(keyFile).mode & 0o777, 0o600);
  assert.match(readFileSync(`${keyFile}.pub`, 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/);
  const again = await release(['keygen', '--out', keyFile]);
  assert.is(again.code, 1);
  assert.match(again.stderr, /refusing to overwrite a release key/);
});

test("pack makes app.bin and the manifest from the build's app image; sign signs exactly that text", async () => {
  const app = join(build.dir, 'xs_esp32.bin');
  const p = await release([
    'pack',
    '--image',
    app,
    '--version',
    '1.4.0',
    '--model',
    'moddable_two',
    '--min-version',
    '1.2.0',
    '--notes',
    'fixes',
    '--out',
    relDir,
  ]);
  assert.is(p.code, 0, p.stderr);
  const unsigned = readOtaRelease(relDir);
  assert.is(unsigned.sig, undefined);
  assert.equal(unsigned.image, Buffer.from(build.app));
  assert.equal(parseManifestText(unsigned.manifestText), {
    version: '1.4.0',
    models: ['moddable_two'],
    size: build.app.length,
    sha256: unsigned.manifest.sha256,
    minVersion: '1.2.0',
    notes: 'fixes',
  });

  const s = await release(['sign', '--dir', relDir, '--key', keyFile]);
  assert.is(s.code, 0, s.stderr);
  const signed = readOtaRelease(relDir);
  const pub = publicKeyFromBase64(readFileSync(`${keyFile}.pub`, 'utf8').trim());
  assert.ok(verify(null, Buffer.from(signed.manifestText), pub, Buffer.from(signed.sig!, 'base64')));
  const v = await release(['verify', '--dir', relDir, '--public-key', `${keyFile}.pub`]);
  assert.is(v.code, 0, v.stderr);
});

test('the key may come from $FLEETBIND_RELEASE_KEY; with neither, sign says how', async () => {
  const env = await release(['sign', '--dir', relDir], { FLEETBIND_RELEASE_KEY: readFileSync(keyFile, 'utf8') });
  assert.is(env.code, 0, env.stderr);
  const none = await release(['sign', '--dir', relDir]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /no release key: give --key FILE or set FLEETBIND_RELEASE_KEY/);
});

test("a key inside the broker's data dir is refused, and nothing is signed with it", async () => {
  const inData = join(dataDir, 'release.pem');
  writeFileSync(inData, readFileSync(keyFile));
  const before = readFileSync(join(relDir, 'manifest.sig'), 'utf8');
  const r = await release(['sign', '--dir', relDir, '--key', inData]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /inside the broker's data dir/);
  assert.is(readFileSync(join(relDir, 'manifest.sig'), 'utf8'), before);
});

test('verify refuses a changed image, and a signature by another key', async () => {
  const other = join(tmp, 'keys', 'other.pem');
  assert.is((await release(['keygen', '--out', other])).code, 0);
  const wrongKey = await release(['verify', '--dir', relDir, '--public-key', `${other}.pub`]);
  assert.is(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /does not verify against that public key/);
  const img = join(relDir, 'app.bin');
  const bytes = readFileSync(img);
  bytes[100] = bytes[100]! ^ 1;
  writeFileSync(img, bytes);
  const changed = await release(['verify', '--dir', relDir, '--public-key', `${keyFile}.pub`]);
  assert.is(changed.code, 1);
  assert.match(changed.stderr, /is not the image its manifest describes/);
});

test('npm run flash -- --release-key writes the public key into NVS (otakey)', async () => {
  const out = join(tmp, 'flash-out');
  const pub = readFileSync(`${keyFile}.pub`, 'utf8').trim();
  const r = await runNpmScript('flash', [
    '--out',
    out,
    '--mac',
    '24:0a:c4:aa:00:17',
    '--broker',
    'mqtt://fleet.example.com:1883',
    '--insecure',
    '--enroll-token',
    'tok',
    '--release-key',
    `${keyFile}.pub`,
    '--build',
    build.dir,
  ]);
  assert.is(r.code, 0, r.stderr);
  const entries = readNvsPartition(readFileSync(join(out, 'nvs.bin')));
  assert.equal(
    entries.filter((e) => e.key === 'otakey').map((e) => e.value),
    [pub],
  );
  const bad = await runNpmScript('flash', [
    '--out',
    join(tmp, 'bad'),
    '--mac',
    '24:0a:c4:aa:00:18',
    '--broker',
    'mqtt://fleet.example.com:1883',
    '--insecure',
    '--enroll-token',
    'tok',
    '--release-key',
    'not-a-key',
    '--build',
    build.dir,
  ]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--release-key "not-a-key": a release public key is base64 of 32 bytes/);
  assert.not.ok(existsSync(join(tmp, 'bad', 'nvs.bin')));
});

test.run();

// The real toolchain: only where the Moddable SDK and ESP-IDF are installed (not in CI, which runs the fake-build path above).
if (process.env.MODDABLE && process.env.IDF_PATH) {
  const real = suite('release tooling (real Moddable build)');
  real('build:firmware -- --release writes an update release that signs and verifies', async () => {
    const out = join(tmp, 'real');
    const b = await runNpmScript('build:firmware', ['--target', 'esp32', '--release', '--fw', '9.9.9', '--out', out]);
    assert.is(b.code, 0, b.stderr);
    const dir = join(out, 'release', 'ota', 'esp32');
    assert.is((await release(['sign', '--dir', dir, '--key', keyFile])).code, 0);
    assert.is((await release(['verify', '--dir', dir, '--public-key', `${keyFile}.pub`])).code, 0);
    assert.equal(readOtaRelease(dir).image, readFileSync(join(out, 'bin', 'esp32', 'release', 'fleetbind', 'xs_esp32.bin')));
  });
  real.run();
} else {
  console.log('release tooling: the real Moddable build test is left out: $MODDABLE and $IDF_PATH are not both set (CI runs the fake-build path)');
}
