// A customer's upload made print-ready (docs/architecture.md, "Walk-up orders"): the type is read
// from the magic bytes only (never the file name or Content-Type), bombs are refused from the
// header before any pixel is decoded, then sharp decodes, applies the EXIF orientation, fits the
// design to the machine's print format, drops all metadata and writes a PNG plus a thumbnail.
import sharp, { type Metadata } from 'sharp';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { PrintFormat } from './print-formats';
import { withoutPngChunks } from './png-chunks';

export type ImageType = 'png' | 'jpeg' | 'webp';

export function sniffImage(b: Buffer): ImageType | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return null;
}

export interface Limits {
  maxPixels: number;
  maxRatio: number;
}

export interface Processed {
  print: Buffer;
  thumb: Buffer;
  width: number;
  height: number;
}

const THUMB_PX = 256;

const badImage = (message: string): ProtocolError => new ProtocolError(ErrorCode.BAD_IMAGE, message, 'file');

export async function processDesign(input: Buffer, format: PrintFormat, limits: Limits): Promise<Processed> {
  const type = sniffImage(input);
  if (type === null) throw badImage('the file is not a PNG, JPEG or WebP image (judged by its content, not its name)');
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch {
    throw badImage(`the file starts like a ${type.toUpperCase()} but is not a valid one`);
  }
  if (meta.format !== type && !(type === 'jpeg' && meta.format === 'jpeg'))
    throw badImage(`the file starts like a ${type.toUpperCase()} but reads as ${String(meta.format)}`);
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w === 0 || h === 0) throw badImage('the image has no pixels');
  const pixels = w * h * Math.max(1, meta.pages ?? 1);
  if (pixels > limits.maxPixels) {
    throw new ProtocolError(ErrorCode.IMAGE_BOMB, `the image is ${w}×${h} pixels; at most ${limits.maxPixels} pixels are accepted`, 'file');
  }
  const ratio = (pixels * 4) / input.length;
  if (ratio > limits.maxRatio) {
    throw new ProtocolError(
      ErrorCode.IMAGE_BOMB,
      `the image would decode to ${Math.round(ratio)} times its file size; at most ${limits.maxRatio} is accepted`,
      'file',
    );
  }
  try {
    // failOn 'error': a truncated or corrupt body is refused rather than printed half grey.
    const decoded = sharp(input, { limitInputPixels: limits.maxPixels, failOn: 'error', autoOrient: true, pages: 1 });
    const { data, info } = await decoded
      .resize(format.width, format.height, { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 } })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Encoded from bare pixels: withDensity on the decoded image would carry its EXIF along.
    const tagged = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
      .withDensity(format.dpi)
      .png({ compressionLevel: 6 })
      .toBuffer();
    const fitted = withoutPngChunks(tagged, ['eXIf']);
    const thumb = await sharp(fitted).resize(THUMB_PX, THUMB_PX, { fit: 'inside' }).png().toBuffer();
    return { print: fitted, thumb, width: format.width, height: format.height };
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw badImage(`the ${type.toUpperCase()} image could not be decoded: ${(err as Error).message.split('\n')[0]}`);
  }
}
