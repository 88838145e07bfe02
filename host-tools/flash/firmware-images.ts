// The images a flash writes, checked and placed: bootloader, partition table, app and (when the
// table has OTA data) its initial contents. The chip comes from the app's image header; the
// bootloader goes where that chip's ROM looks for it and the table at 0x8000 (both fixed by the
// ROM), everything else where the partition table says. The same checks run on a Moddable build
// folder (build-dir.ts), a release artefact (artefact.ts) and, in the browser, on uploaded files.
import { chipFamilyOfImage, imageChipId, type ChipFamily } from './chips';
import { FlashError } from './errors';
import {
  bootApp,
  DataSubtype,
  findPartition,
  PARTITION_TABLE_OFFSET,
  parsePartitionTable,
  PartitionTableError,
  PartitionType,
  type Partition,
} from './partition-table';

/** The file names Moddable's mcconfig gives the images (tools/mcconfig/make.esp32.mk, target `all`). */
export const BUILD_FILES = {
  bootloader: 'bootloader.bin',
  partitionTable: 'partition-table.bin',
  app: 'xs_esp32.bin',
  otaData: 'ota_data_initial.bin',
} as const;
const IMAGE_MAGIC = 0xe9;

export type ImageName = 'bootloader' | 'partition-table' | 'otadata' | 'nvs' | 'app';

export interface FlashImage {
  name: ImageName;
  offset: number;
  data: Uint8Array;
  /** The file it came from, or the name it gets in a dry run. */
  file: string;
}

export interface FirmwareBuild {
  /** Where it came from, for messages: a folder, a manifest, "uploaded files". */
  source: string;
  chip: ChipFamily;
  partitions: Partition[];
  nvs: Partition;
  bootloader: FlashImage;
  partitionTable: FlashImage;
  app: FlashImage;
  otaData: FlashImage | null;
}

export interface FirmwareFiles {
  bootloader: Uint8Array;
  partitionTable: Uint8Array;
  app: Uint8Array;
  otaData?: Uint8Array | null;
}

function invalid(message: string): FlashError {
  return new FlashError('BUILD_INVALID', message);
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function firmwareFrom(files: FirmwareFiles, source: string): FirmwareBuild {
  let partitions: Partition[];
  try {
    partitions = parsePartitionTable(files.partitionTable);
  } catch (e) {
    if (e instanceof PartitionTableError) throw invalid(`${source}: ${BUILD_FILES.partitionTable}: ${e.message}`);
    throw e;
  }
  const nvs = findPartition(partitions, PartitionType.DATA, DataSubtype.NVS);
  if (!nvs) throw invalid(`the partition table in ${source} has no nvs partition for the device's credentials`);
  const appPartition = bootApp(partitions);
  if (!appPartition) throw invalid(`the partition table in ${source} has no factory or ota_0 app partition`);

  const { app, bootloader } = files;
  if (app[0] !== IMAGE_MAGIC) throw invalid(`${BUILD_FILES.app} in ${source} is not an ESP32 app image (first byte is not 0xE9)`);
  if (bootloader[0] !== IMAGE_MAGIC) throw invalid(`${BUILD_FILES.bootloader} in ${source} is not an ESP32 image (first byte is not 0xE9)`);
  const chip = chipFamilyOfImage(app);
  if (!chip) throw invalid(`${BUILD_FILES.app} in ${source} is built for chip id ${imageChipId(app)}, which is none of ESP32, ESP32-S3, ESP32-C3`);
  if (imageChipId(bootloader) !== chip.imageChipId)
    throw invalid(`${BUILD_FILES.bootloader} and ${BUILD_FILES.app} in ${source} are built for different chips`);
  if (bootloader.length > PARTITION_TABLE_OFFSET - chip.bootloaderOffset) {
    throw invalid(
      `${BUILD_FILES.bootloader} (${bootloader.length} bytes) at ${hex(chip.bootloaderOffset)} overlaps the partition table at ${hex(PARTITION_TABLE_OFFSET)}`,
    );
  }
  if (app.length > appPartition.size) {
    throw invalid(`${BUILD_FILES.app} (${app.length} bytes) does not fit the ${appPartition.label} partition (${appPartition.size} bytes)`);
  }

  let otaData: FlashImage | null = null;
  const otaPartition = findPartition(partitions, PartitionType.DATA, DataSubtype.OTA);
  if (otaPartition && files.otaData) otaData = { name: 'otadata', offset: otaPartition.offset, data: files.otaData, file: BUILD_FILES.otaData };

  return {
    source,
    chip,
    partitions,
    nvs,
    bootloader: { name: 'bootloader', offset: chip.bootloaderOffset, data: bootloader, file: BUILD_FILES.bootloader },
    partitionTable: { name: 'partition-table', offset: PARTITION_TABLE_OFFSET, data: files.partitionTable, file: BUILD_FILES.partitionTable },
    app: { name: 'app', offset: appPartition.offset, data: app, file: BUILD_FILES.app },
    otaData,
  };
}
