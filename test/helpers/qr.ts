// Reads the text of a QR code from a PNG file, with a real decoder (jsQR), as a phone would.
import { readFileSync } from 'node:fs';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';

export function decodeQrPng(file: string): string {
  const png = PNG.sync.read(readFileSync(file));
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  if (code === null) throw new Error(`no QR code found in ${file} (${png.width}x${png.height})`);
  return code.data;
}
