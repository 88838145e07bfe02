// `npm run build:firmware -- --release` ends here: the images of a Moddable build folder, copied
// into a release artefact with an ESP Web Tools manifest.json (host-tools/flash/artefact-manifest.ts)
// that `npm run flash -- --build DIR` and the web app's Flash page read without the Moddable SDK.
// Each chip gets its own subfolder; building another chip into the same artefact adds its build to
// the manifest, replacing an earlier build for that chip.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ARTEFACT_MANIFEST, parseArtefactManifest, type ArtefactManifest, type ManifestBuild } from '../host-tools/flash/artefact-manifest';
import { loadFirmwareBuilds } from '../host-tools/flash/build-dir';

export interface WrittenArtefact {
  dir: string;
  manifest: ArtefactManifest;
  build: ManifestBuild;
}

export function writeFirmwareArtefact(buildDir: string, outDir: string, release: { name: string; version: string }): WrittenArtefact {
  const [build] = loadFirmwareBuilds(buildDir);
  const b = build!;
  const dir = resolve(outDir);
  const sub = b.chip.name.toLowerCase().replace(/-/g, '');
  mkdirSync(join(dir, sub), { recursive: true });
  const images = [b.bootloader, b.partitionTable, b.app, ...(b.otaData ? [b.otaData] : [])].sort((x, y) => x.offset - y.offset);
  for (const image of images) copyFileSync(join(resolve(buildDir), image.file), join(dir, sub, image.file));
  const entry: ManifestBuild = { chipFamily: b.chip.name, parts: images.map((i) => ({ path: `${sub}/${i.file}`, offset: i.offset })) };

  const manifestPath = join(dir, ARTEFACT_MANIFEST);
  const earlier = existsSync(manifestPath) ? parseArtefactManifest(readFileSync(manifestPath, 'utf8'), manifestPath).builds : [];
  const manifest: ArtefactManifest = {
    name: release.name,
    version: release.version,
    new_install_prompt_erase: true,
    builds: [...earlier.filter((e) => e.chipFamily !== entry.chipFamily), entry],
  };
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir, manifest, build: entry };
}
