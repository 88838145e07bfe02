// The update half of a release artefact (docs/architecture.md, Over-the-air updates): the app
// image, the manifest a release key signs, and its signature, in one folder per model:
//   <release>/ota/<model>/app.bin, manifest.json (the exact signed text), manifest.sig (base64).
// `npm run build:firmware -- --release` writes the first two from a Moddable build; `npm run
// release -- sign` adds the signature. Nothing here needs the Moddable SDK.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseManifestText, type ReleaseManifest } from '../../protocol/ota';

export const OTA_FILES = { image: 'app.bin', manifest: 'manifest.json', sig: 'manifest.sig' } as const;

export interface OtaRelease {
  dir: string;
  image: Buffer;
  manifestText: string;
  manifest: ReleaseManifest;
  /** Absent until the release is signed. */
  sig?: string;
}

export interface ReleaseFacts {
  version: string;
  models: string[];
  minVersion?: string;
  notes?: string;
}

/** Writes app.bin and the manifest for `image` into `dir` (an older signature there is removed: it no longer matches). */
export function writeOtaRelease(image: Uint8Array, dir: string, facts: ReleaseFacts): OtaRelease {
  const manifest: ReleaseManifest = {
    version: facts.version,
    models: facts.models,
    size: image.length,
    sha256: createHash('sha256').update(image).digest('hex'),
    ...(facts.minVersion === undefined ? {} : { minVersion: facts.minVersion }),
    ...(facts.notes === undefined ? {} : { notes: facts.notes }),
  };
  const manifestText = JSON.stringify(manifest);
  parseManifestText(manifestText);
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, OTA_FILES.image), image);
  writeFileSync(join(out, OTA_FILES.manifest), manifestText);
  writeFileSync(join(out, OTA_FILES.sig), '');
  return { dir: out, image: Buffer.from(image), manifestText, manifest };
}

export function readOtaRelease(dir: string): OtaRelease {
  const out = resolve(dir);
  const manifestPath = join(out, OTA_FILES.manifest);
  if (!existsSync(manifestPath))
    throw new Error(
      `${dir} holds no ${OTA_FILES.manifest}: not an update release folder (npm run build:firmware -- --release writes one under release/ota/<model>)`,
    );
  const manifestText = readFileSync(manifestPath, 'utf8');
  const manifest = parseManifestText(manifestText);
  const image = readFileSync(join(out, OTA_FILES.image));
  const sha = createHash('sha256').update(image).digest('hex');
  if (image.length !== manifest.size || sha !== manifest.sha256)
    throw new Error(`${OTA_FILES.image} in ${dir} is not the image its manifest describes (size ${image.length}, sha256 ${sha})`);
  const sigPath = join(out, OTA_FILES.sig);
  const sig = existsSync(sigPath) ? readFileSync(sigPath, 'utf8').trim() : '';
  return sig === '' ? { dir: out, image, manifestText, manifest } : { dir: out, image, manifestText, manifest, sig };
}

export function writeSignature(dir: string, sig: string): void {
  writeFileSync(join(resolve(dir), OTA_FILES.sig), `${sig}\n`);
}
