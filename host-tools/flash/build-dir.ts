// The firmware builds the flasher can write, from a Moddable build folder (mcconfig copies
// bootloader.bin, partition-table.bin and xs_esp32.bin, and ota_data_initial.bin when the table has
// OTA data, into its output folder) or from a release artefact: its manifest.json, or the folder
// holding it (artefact.ts). An artefact may hold one build per chip; pickBuild() takes the device's.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ARTEFACT_MANIFEST, loadArtefact } from './artefact';
import { FlashError } from './errors';
import { BUILD_FILES, firmwareFrom, type FirmwareBuild } from './firmware-images';

function read(dir: string, file: string): Uint8Array {
  const path = join(dir, file);
  if (!existsSync(path)) throw new FlashError('BUILD_MISSING', `firmware build in ${dir} has no ${file} (run npm run build:firmware, or pass --build DIR)`);
  return new Uint8Array(readFileSync(path));
}

export function loadFirmwareBuilds(buildPath: string): FirmwareBuild[] {
  const path = resolve(buildPath);
  if (!existsSync(path)) throw new FlashError('BUILD_MISSING', `no firmware build at ${path} (run npm run build:firmware, or pass --build DIR)`);
  if (!statSync(path).isDirectory()) return loadArtefact(path);
  if (existsSync(join(path, ARTEFACT_MANIFEST))) return loadArtefact(join(path, ARTEFACT_MANIFEST));
  const otaPath = join(path, BUILD_FILES.otaData);
  const build = firmwareFrom(
    {
      bootloader: read(path, BUILD_FILES.bootloader),
      partitionTable: read(path, BUILD_FILES.partitionTable),
      app: read(path, BUILD_FILES.app),
      otaData: existsSync(otaPath) ? new Uint8Array(readFileSync(otaPath)) : null,
    },
    path,
  );
  return [build];
}
