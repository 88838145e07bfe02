// --out DIR: the images a flash would write, as files, plus where each goes — as JSON, and as
// an esptool.py argument file (`esptool.py --chip esp32 write_flash @flash_args`).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FlashImage } from './firmware-images';

export interface ImagesManifest {
  chip: string;
  deviceId: string | null;
  machineCode: string | null;
  images: Array<{ name: string; file: string; offset: string; size: number }>;
}

export function writeImagesTo(dir: string, chip: string, images: FlashImage[], deviceId: string | null, machineCode: string | null): string {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  for (const image of images) {
    const path = join(out, image.file);
    writeFileSync(path, image.data);
    // The NVS image holds the device secret or the enrollment token.
    if (image.name === 'nvs') chmodSync(path, 0o600);
  }
  const manifest: ImagesManifest = {
    chip,
    deviceId,
    machineCode,
    images: images.map((i) => ({ name: i.name, file: i.file, offset: `0x${i.offset.toString(16)}`, size: i.data.length })),
  };
  writeFileSync(join(out, 'flash.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(out, 'flash_args'), `${images.map((i) => `0x${i.offset.toString(16)} ${i.file}`).join('\n')}\n`);
  return out;
}
