// A fake Moddable build folder for an ESP32, ESP32-S3 or ESP32-C3: random images with the ESP image
// magic byte and the chip's id in the header (where ESP-IDF puts it), and a real partition table
// (the layout of Moddable's default ESP32 partitions.csv, plus its xs partition).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chipFamilyNamed, IMAGE_CHIP_ID_OFFSET, type ChipFamily } from '../../host-tools/flash/chips';
import { BUILD_FILES } from '../../host-tools/flash/firmware-images';
import { AppSubtype, buildPartitionTable, DataSubtype, PartitionType, type Partition } from '../../host-tools/flash/partition-table';

export interface FakeBuild {
  dir: string;
  chip: ChipFamily;
  bootloader: Uint8Array;
  partitionTable: Uint8Array;
  app: Uint8Array;
  partitions: Partition[];
}

export const FAKE_PARTITIONS: Partition[] = [
  { label: 'nvs', type: PartitionType.DATA, subtype: DataSubtype.NVS, offset: 0x9000, size: 0x6000, flags: 0 },
  { label: 'phy_init', type: PartitionType.DATA, subtype: DataSubtype.PHY, offset: 0xf000, size: 0x1000, flags: 0 },
  { label: 'factory', type: PartitionType.APP, subtype: AppSubtype.FACTORY, offset: 0x10000, size: 0x300000, flags: 0 },
  { label: 'xs', type: 0x40, subtype: 0x01, offset: 0x310000, size: 0x40000, flags: 0 },
];

function image(size: number, chip: ChipFamily): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size));
  bytes[0] = 0xe9;
  bytes[IMAGE_CHIP_ID_OFFSET] = chip.imageChipId & 0xff;
  bytes[IMAGE_CHIP_ID_OFFSET + 1] = chip.imageChipId >> 8;
  return bytes;
}

export function makeFakeBuild(parent: string, options: { appSize?: number; partitions?: Partition[]; chip?: string; name?: string } = {}): FakeBuild {
  const chip = chipFamilyNamed(options.chip ?? 'ESP32')!;
  const dir = join(parent, options.name ?? 'build');
  mkdirSync(dir, { recursive: true });
  const partitions = options.partitions ?? FAKE_PARTITIONS;
  // Odd sizes on purpose: the flasher pads to 4 bytes, and the tail must still land exactly.
  const bootloader = image(0x5a13, chip);
  const partitionTable = buildPartitionTable(partitions);
  const app = image(options.appSize ?? 0x3a2f1, chip);
  writeFileSync(join(dir, BUILD_FILES.bootloader), bootloader);
  writeFileSync(join(dir, BUILD_FILES.partitionTable), partitionTable);
  writeFileSync(join(dir, BUILD_FILES.app), app);
  return { dir, chip, bootloader, partitionTable, app, partitions };
}
