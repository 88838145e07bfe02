// The firmware the Flash page writes, from files the admin picks: a release artefact's folder
// (manifest.json and the images it names, from `npm run build:firmware -- --release`) or a Moddable
// build folder (bootloader.bin, partition-table.bin, xs_esp32.bin). Checked exactly as
// `npm run flash --build` checks them, by the same code.
import { ARTEFACT_MANIFEST, firmwareFromManifest, parseArtefactManifest } from '../../../host-tools/flash/artefact-manifest';
import { FlashError } from '../../../host-tools/flash/errors';
import { BUILD_FILES, firmwareFrom, type FirmwareBuild } from '../../../host-tools/flash/firmware-images';

/** A picked file's path inside the picked folder ("esp32s3/bootloader.bin"), or its bare name. */
function relativePath(file: File): string {
  const rel = file.webkitRelativePath;
  return rel ? rel.split('/').slice(1).join('/') : file.name;
}

export async function firmwareFromFiles(list: Iterable<File>): Promise<FirmwareBuild[]> {
  const files = new Map<string, Uint8Array>();
  for (const f of list) files.set(relativePath(f), new Uint8Array(await f.arrayBuffer()));
  const read = (path: string): Uint8Array => {
    const bytes = files.get(path);
    if (!bytes) throw new FlashError('BUILD_MISSING', `the picked folder has no ${path}`);
    return bytes;
  };
  const manifest = files.get(ARTEFACT_MANIFEST);
  if (manifest) return firmwareFromManifest(parseArtefactManifest(new TextDecoder().decode(manifest), ARTEFACT_MANIFEST), read, 'the picked artefact');
  if (!files.has(BUILD_FILES.app)) {
    throw new FlashError(
      'BUILD_MISSING',
      `pick a release artefact folder (with ${ARTEFACT_MANIFEST}) or a build folder (with ${BUILD_FILES.bootloader}, ${BUILD_FILES.partitionTable} and ${BUILD_FILES.app})`,
    );
  }
  return [
    firmwareFrom(
      {
        bootloader: read(BUILD_FILES.bootloader),
        partitionTable: read(BUILD_FILES.partitionTable),
        app: read(BUILD_FILES.app),
        otaData: files.get(BUILD_FILES.otaData) ?? null,
      },
      'the picked build folder',
    ),
  ];
}
