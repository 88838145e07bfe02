// A release artefact's manifest.json, in ESP Web Tools' format (https://esphome.github.io/esp-web-tools/,
// "Creating your manifest"): a name, a version, and per chip family the parts to write, each a
// path relative to the manifest and a flash offset. Which part is which is read from the offsets:
// the partition table sits at 0x8000, the bootloader where the chip's ROM looks, the app and OTA
// data where the table puts them. Runs in the browser too; reading the files is the caller's job.
import { chipFamilyNamed, CHIP_FAMILIES } from './chips';
import { FlashError } from './errors';
import { firmwareFrom, type FirmwareBuild, type FirmwareFiles } from './firmware-images';
import { bootApp, DataSubtype, findPartition, PARTITION_TABLE_OFFSET, parsePartitionTable, PartitionTableError, PartitionType } from './partition-table';

export const ARTEFACT_MANIFEST = 'manifest.json';

export interface ManifestPart {
  path: string;
  offset: number;
}

export interface ManifestBuild {
  chipFamily: string;
  parts: ManifestPart[];
}

export interface ArtefactManifest {
  name: string;
  version: string;
  new_install_prompt_erase?: boolean;
  builds: ManifestBuild[];
}

function invalid(source: string, message: string): FlashError {
  return new FlashError('BUILD_INVALID', `${source}: ${message}`);
}

export function parseArtefactManifest(text: string, source: string): ArtefactManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(source, `not JSON (${(e as Error).message})`);
  }
  const m = json as Partial<ArtefactManifest> | null;
  if (!m || typeof m !== 'object' || typeof m.name !== 'string' || typeof m.version !== 'string' || !Array.isArray(m.builds) || m.builds.length === 0) {
    throw invalid(source, 'not a firmware manifest: it needs name, version and a non-empty builds list');
  }
  for (const b of m.builds) {
    if (!b || typeof b.chipFamily !== 'string' || !Array.isArray(b.parts)) throw invalid(source, 'every build needs a chipFamily and parts');
    if (!chipFamilyNamed(b.chipFamily))
      throw invalid(source, `chipFamily ${JSON.stringify(b.chipFamily)} is none of ${CHIP_FAMILIES.map((c) => c.name).join(', ')}`);
    for (const p of b.parts) {
      if (!p || typeof p.path !== 'string' || p.path === '' || !Number.isInteger(p.offset) || p.offset < 0)
        throw invalid(source, `${b.chipFamily}: every part needs a path and a non-negative integer offset`);
      if (p.path.split('/').includes('..') || p.path.startsWith('/'))
        throw invalid(source, `${b.chipFamily}: part path ${JSON.stringify(p.path)} leaves the artefact folder`);
    }
  }
  return m as ArtefactManifest;
}

/** Every build in the manifest, each checked as a build folder is; `read` returns a part's bytes. */
export function firmwareFromManifest(manifest: ArtefactManifest, read: (path: string) => Uint8Array, source: string): FirmwareBuild[] {
  return manifest.builds.map((b) => {
    const chip = chipFamilyNamed(b.chipFamily)!;
    const at = (offset: number): ManifestPart | undefined => b.parts.find((p) => p.offset === offset);
    const need = (offset: number, what: string): Uint8Array => {
      const part = at(offset);
      if (!part) throw invalid(source, `the ${b.chipFamily} build has no part at 0x${offset.toString(16)} (${what})`);
      return read(part.path);
    };
    const partitionTable = need(PARTITION_TABLE_OFFSET, 'the partition table');
    let partitions;
    try {
      partitions = parsePartitionTable(partitionTable);
    } catch (e) {
      if (e instanceof PartitionTableError) throw invalid(source, `${b.chipFamily} partition table: ${e.message}`);
      throw e;
    }
    const app = bootApp(partitions);
    const ota = findPartition(partitions, PartitionType.DATA, DataSubtype.OTA);
    const files: FirmwareFiles = {
      bootloader: need(chip.bootloaderOffset, 'the bootloader'),
      partitionTable,
      app: app ? need(app.offset, `the ${app.label} app`) : new Uint8Array(0),
      otaData: ota && at(ota.offset) ? read(at(ota.offset)!.path) : null,
    };
    const known = new Set([PARTITION_TABLE_OFFSET, chip.bootloaderOffset, app?.offset, ota?.offset]);
    const stray = b.parts.find((p) => !known.has(p.offset));
    if (stray) throw invalid(source, `the ${b.chipFamily} build's part ${stray.path} at 0x${stray.offset.toString(16)} is no image the flasher knows`);
    const build = firmwareFrom(files, `${source} (${b.chipFamily})`);
    if (build.chip !== chip) throw invalid(source, `the ${b.chipFamily} build's app image is built for the ${build.chip.name}`);
    return build;
  });
}
