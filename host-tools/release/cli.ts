// `npm run release -- <keygen|pack|sign|verify>`: the signing side of firmware updates
// (docs/architecture.md, Over-the-air updates). The release key never goes near the broker:
//   keygen --out FILE              a new Ed25519 key (PEM, mode 600) and its public key (FILE.pub)
//   pack --image FILE --version V --model M [--min-version V] [--notes T] --out DIR
//                                  an update release from any app image (what build:firmware --release does)
//   sign --dir DIR [--key FILE]    signs DIR's manifest (or the key in $FLEETBIND_RELEASE_KEY)
//   verify --dir DIR --public-key KEY   checks image, manifest and signature as the broker will
import { verify } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ToolError, usageError } from '../api/errors';
import { runCli } from '../api/run-cli';
import { defineCli, helpText, parseCli } from '../cli/args';
import { ReleaseKeyError, loadReleaseKey, newReleaseKey, publicKeyBase64, publicKeyFromBase64, signManifest } from './keys';
import { readOtaRelease, writeOtaRelease, writeSignature } from './ota-release';

export const RELEASE_CLI = defineCli({
  command: 'npm run release --',
  usage: [
    'keygen --out FILE',
    'pack --image FILE --version V --model M [--model M]... [--min-version V] [--notes TEXT] --out DIR',
    'sign --dir DIR [--key FILE]',
    'verify --dir DIR --public-key KEY',
  ],
  summary:
    "Makes and signs firmware update releases with an Ed25519 release key kept away from the broker: a file or $FLEETBIND_RELEASE_KEY, never the broker's data dir.",
  options: {
    out: { type: 'string', value: 'PATH', help: 'keygen: the private key file to write; pack: the release folder' },
    image: { type: 'string', value: 'FILE', help: 'pack: the app image (xs_esp32.bin of a Moddable build)' },
    version: { type: 'string', value: 'V', help: 'pack: the version the image reports (x.y.z)' },
    model: { type: 'string', multiple: true, value: 'M', help: "pack: a board model the image is for (the firmware's model, e.g. moddable_two)" },
    'min-version': { type: 'string', value: 'V', help: 'pack: once installed, the device refuses releases older than this' },
    notes: { type: 'string', value: 'TEXT', help: 'pack: release notes' },
    dir: { type: 'string', value: 'DIR', help: 'sign, verify: the release folder (app.bin, manifest.json, manifest.sig)' },
    key: { type: 'string', value: 'FILE', help: `sign: the private key (PEM); default $FLEETBIND_RELEASE_KEY` },
    'data-dir': { type: 'string', value: 'DIR', env: 'FLEETBIND_DATA_DIR', default: './data', help: "the broker's data dir, where a release key is refused" },
    'public-key': { type: 'string', value: 'KEY', help: 'verify: the release public key (base64 or a .pub file)' },
  },
  positionals: { '<command>': 'keygen, pack, sign or verify' },
});

function need<T>(v: T | undefined, flag: string, command: string): T {
  if (v === undefined) throw usageError(`${command} needs ${flag}`);
  return v;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals, help } = parseCli(RELEASE_CLI, argv);
  if (help) {
    console.log(helpText(RELEASE_CLI));
    return;
  }
  const command = positionals[0]!;
  try {
    switch (command) {
      case 'keygen': {
        const out = need(values.out, '--out FILE', command);
        if (existsSync(out)) throw new ToolError(`${out} exists; refusing to overwrite a release key`);
        const { privatePem, publicBase64 } = newReleaseKey();
        writeFileSync(out, privatePem, { mode: 0o600 });
        chmodSync(out, 0o600);
        writeFileSync(`${out}.pub`, `${publicBase64}\n`);
        console.log(`release: private key in ${out} (mode 600; keep it off the broker), public key in ${out}.pub:\n${publicBase64}`);
        console.log('Give the public key to npm run flash -- --release-key and to the broker (--release-public-keys).');
        return;
      }
      case 'pack': {
        const image = readFileSync(need(values.image, '--image FILE', command));
        const r = writeOtaRelease(image, need(values.out, '--out DIR', command), {
          version: need(values.version, '--version V', command),
          models: need(values.model, '--model M', command),
          ...(values['min-version'] === undefined ? {} : { minVersion: values['min-version'] }),
          ...(values.notes === undefined ? {} : { notes: values.notes }),
        });
        console.log(
          `release: ${r.manifest.version} for ${r.manifest.models.join(', ')} (${r.manifest.size} bytes, sha256 ${r.manifest.sha256}) in ${r.dir}; sign it with npm run release -- sign --dir ${r.dir}`,
        );
        return;
      }
      case 'sign': {
        const dir = need(values.dir, '--dir DIR', command);
        const release = readOtaRelease(dir);
        const key = loadReleaseKey(values.key, process.env, values['data-dir']);
        const sig = signManifest(release.manifestText, key);
        writeSignature(dir, sig);
        console.log(`release: signed ${release.manifest.version} in ${release.dir}`);
        return;
      }
      case 'verify': {
        const release = readOtaRelease(need(values.dir, '--dir DIR', command));
        const raw = need(values['public-key'], '--public-key KEY', command);
        const pub = publicKeyFromBase64(publicKeyBase64(existsSync(raw) ? readFileSync(raw, 'utf8') : raw));
        if (release.sig === undefined) throw new ToolError(`${release.dir} is not signed yet (npm run release -- sign --dir ${release.dir})`);
        if (!verify(null, Buffer.from(release.manifestText), pub, Buffer.from(release.sig, 'base64')))
          throw new ToolError(`the signature in ${release.dir} does not verify against that public key`);
        console.log(`release: ${release.manifest.version} in ${release.dir} is signed by that key, and app.bin matches its manifest`);
        return;
      }
      default:
        throw usageError(`unknown command ${JSON.stringify(command)}: keygen, pack, sign or verify`);
    }
  } catch (e) {
    if (e instanceof ReleaseKeyError) throw new ToolError(e.message);
    if (e instanceof ToolError) throw e;
    if (e instanceof Error && !(e instanceof TypeError)) throw new ToolError(e.message);
    throw e;
  }
}

await runCli('release', main, `(${RELEASE_CLI.command} --help lists the options)`);
