// The chips fleetbind firmware is built for, and what differs between them when flashing: where the
// ROM looks for the second-stage bootloader (0x1000 on the ESP32, 0x0 on the S3 and C3), the
// Moddable target that builds for it, and the chip id ESP-IDF writes into every image header
// (esp_image_header_t.chip_id: ESP32 0, ESP32-S3 9, ESP32-C3 5). Names are esptool-js's CHIP_NAME,
// which is also ESP Web Tools' chipFamily. Runs in the browser too.
export interface ChipFamily {
  name: 'ESP32' | 'ESP32-S3' | 'ESP32-C3';
  imageChipId: number;
  bootloaderOffset: number;
  /** `npm run build:firmware -- --target …` for a plain board of this chip. */
  moddableTarget: string;
}

export const CHIP_FAMILIES: readonly ChipFamily[] = [
  { name: 'ESP32', imageChipId: 0, bootloaderOffset: 0x1000, moddableTarget: 'esp32/moddable_two' },
  { name: 'ESP32-S3', imageChipId: 9, bootloaderOffset: 0x0, moddableTarget: 'esp32/esp32s3' },
  { name: 'ESP32-C3', imageChipId: 5, bootloaderOffset: 0x0, moddableTarget: 'esp32/esp32c3' },
];

export function chipFamilyNamed(name: string): ChipFamily | undefined {
  return CHIP_FAMILIES.find((c) => c.name === name);
}

/** The header field that says which chip an ESP-IDF image (bootloader or app) is built for. */
export const IMAGE_CHIP_ID_OFFSET = 12;

export function imageChipId(image: Uint8Array): number {
  return image[IMAGE_CHIP_ID_OFFSET]! | (image[IMAGE_CHIP_ID_OFFSET + 1]! << 8);
}

export function chipFamilyOfImage(image: Uint8Array): ChipFamily | undefined {
  const id = imageChipId(image);
  return CHIP_FAMILIES.find((c) => c.imageChipId === id);
}
