// A fake Moddable ESP32 build folder: random images with the ESP image magic byte, and a real
// partition table (the layout of Moddable's default ESP32 partitions.csv, plus its xs partition).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_FILES } from '../../host-tools/flash/build-dir';
import { AppSubtype, buildPartitionTable, DataSubtype, PartitionType, type Partition } from '../../host-tools/flash/partition-table';

export interface FakeBuild {
  dir: string;
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

function image(size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size));
  bytes[0] = 0xe9;
  return bytes;
}

export function makeFakeBuild(parent: string, options: { appSize?: number; partitions?: Partition[] } = {}): FakeBuild {
  const dir = join(parent, 'build');
  mkdirSync(dir, { recursive: true });
  const partitions = options.partitions ?? FAKE_PARTITIONS;
  // Odd sizes on purpose: the flasher pads to 4 bytes, and the tail must still land exactly.
  const bootloader = image(0x5a13);
  const partitionTable = buildPartitionTable(partitions);
  const app = image(options.appSize ?? 0x3a2f1);
  writeFileSync(join(dir, BUILD_FILES.bootloader), bootloader);
  writeFileSync(join(dir, BUILD_FILES.partitionTable), partitionTable);
  writeFileSync(join(dir, BUILD_FILES.app), app);
  return { dir, bootloader, partitionTable, app, partitions };
}
