// The firmware build the flasher writes: Moddable's mcconfig copies bootloader.bin,
// partition-table.bin and xs_esp32.bin (and ota_data_initial.bin when the table has OTA data) into
// its output folder (tools/mcconfig/make.esp32.mk, target `all`). Where each image goes comes from
// the partition table in that folder, except the bootloader and the table itself, whose places the
// ESP32 ROM fixes.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FlashError } from './errors';
import {
  BOOTLOADER_OFFSET,
  DataSubtype,
  PARTITION_TABLE_OFFSET,
  PartitionType,
  bootApp,
  findPartition,
  parsePartitionTable,
  PartitionTableError,
  type Partition,
} from './partition-table';

export const BUILD_FILES = { bootloader: 'bootloader.bin', partitionTable: 'partition-table.bin', app: 'xs_esp32.bin', otaData: 'ota_data_initial.bin' } as const;
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
  dir: string;
  partitions: Partition[];
  nvs: Partition;
  bootloader: FlashImage;
  partitionTable: FlashImage;
  app: FlashImage;
  otaData: FlashImage | null;
}

function read(dir: string, file: string): Uint8Array {
  const path = join(dir, file);
  if (!existsSync(path)) throw new FlashError('BUILD_MISSING', `firmware build in ${dir} has no ${file} (run npm run build:firmware, or pass --build DIR)`);
  return new Uint8Array(readFileSync(path));
}

function invalid(message: string): FlashError {
  return new FlashError('BUILD_INVALID', message);
}

export function loadFirmwareBuild(buildDir: string): FirmwareBuild {
  const dir = resolve(buildDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new FlashError('BUILD_MISSING', `no firmware build at ${dir} (run npm run build:firmware, or pass --build DIR)`);
  }
  const tableBytes = read(dir, BUILD_FILES.partitionTable);
  const bootloader = read(dir, BUILD_FILES.bootloader);
  const app = read(dir, BUILD_FILES.app);

  let partitions: Partition[];
  try {
    partitions = parsePartitionTable(tableBytes);
  } catch (e) {
    if (e instanceof PartitionTableError) throw invalid(`${join(dir, BUILD_FILES.partitionTable)}: ${e.message}`);
    throw e;
  }
  const nvs = findPartition(partitions, PartitionType.DATA, DataSubtype.NVS);
  if (!nvs) throw invalid(`the partition table in ${dir} has no nvs partition for the device's credentials`);
  const appPartition = bootApp(partitions);
  if (!appPartition) throw invalid(`the partition table in ${dir} has no factory or ota_0 app partition`);

  if (bootloader[0] !== IMAGE_MAGIC) throw invalid(`${BUILD_FILES.bootloader} is not an ESP32 image (first byte is not 0xE9)`);
  if (bootloader.length > PARTITION_TABLE_OFFSET - BOOTLOADER_OFFSET) {
    throw invalid(`${BUILD_FILES.bootloader} (${bootloader.length} bytes) overlaps the partition table at 0x8000`);
  }
  if (app[0] !== IMAGE_MAGIC) throw invalid(`${BUILD_FILES.app} is not an ESP32 app image (first byte is not 0xE9)`);
  if (app.length > appPartition.size) {
    throw invalid(`${BUILD_FILES.app} (${app.length} bytes) does not fit the ${appPartition.label} partition (${appPartition.size} bytes)`);
  }

  let otaData: FlashImage | null = null;
  const otaPartition = findPartition(partitions, PartitionType.DATA, DataSubtype.OTA);
  if (otaPartition && existsSync(join(dir, BUILD_FILES.otaData))) {
    otaData = { name: 'otadata', offset: otaPartition.offset, data: read(dir, BUILD_FILES.otaData), file: BUILD_FILES.otaData };
  }

  return {
    dir,
    partitions,
    nvs,
    bootloader: { name: 'bootloader', offset: BOOTLOADER_OFFSET, data: bootloader, file: BUILD_FILES.bootloader },
    partitionTable: { name: 'partition-table', offset: PARTITION_TABLE_OFFSET, data: tableBytes, file: BUILD_FILES.partitionTable },
    app: { name: 'app', offset: appPartition.offset, data: app, file: BUILD_FILES.app },
    otaData,
  };
}
