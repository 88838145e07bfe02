// A camera's view of a label, as the YUV4MPEG2 video Chromium's fake capture device plays
// (--use-file-for-fake-video-capture). The format is a text header, then per frame "FRAME\n"
// and the Y, U and V planes (4:2:0, full-range BT.601, as C420jpeg declares).
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

export interface Y4mOptions {
  width: number;
  height: number;
  frames: number;
  fps: number;
  background: number;
}

/** The PNG, scaled (nearest neighbour) to fill most of the frame's height, centred on a grey surface. */
export function labelFrameRgb(png: Buffer, o: Pick<Y4mOptions, 'width' | 'height' | 'background'>): Uint8Array {
  const src = PNG.sync.read(png);
  const rgb = new Uint8Array(o.width * o.height * 3).fill(o.background);
  const scale = Math.min((o.height * 0.9) / src.height, (o.width * 0.9) / src.width);
  const w = Math.floor(src.width * scale);
  const h = Math.floor(src.height * scale);
  const x0 = Math.floor((o.width - w) / 2);
  const y0 = Math.floor((o.height - h) / 2);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(src.height - 1, Math.floor(y / scale));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(src.width - 1, Math.floor(x / scale));
      const s = (sy * src.width + sx) * 4;
      const d = ((y0 + y) * o.width + x0 + x) * 3;
      rgb[d] = src.data[s]!;
      rgb[d + 1] = src.data[s + 1]!;
      rgb[d + 2] = src.data[s + 2]!;
    }
  }
  return rgb;
}

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** One 4:2:0 frame: Y per pixel, U and V averaged over each 2×2 block. */
export function yuv420(rgb: Uint8Array, width: number, height: number): Buffer {
  if (width % 2 !== 0 || height % 2 !== 0) throw new Error(`4:2:0 needs even dimensions, got ${width}×${height}`);
  const out = Buffer.alloc(width * height * 1.5);
  const cw = width / 2;
  const uOff = width * height;
  const vOff = uOff + cw * (height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[y * width + x] = clamp(0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!);
    }
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const) {
        const i = ((y + dy) * width + x + dx) * 3;
        r += rgb[i]!;
        g += rgb[i + 1]!;
        b += rgb[i + 2]!;
      }
      r /= 4;
      g /= 4;
      b /= 4;
      const c = (y / 2) * cw + x / 2;
      out[uOff + c] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      out[vOff + c] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  return out;
}

export function writeY4m(file: string, rgb: Uint8Array, o: Pick<Y4mOptions, 'width' | 'height' | 'frames' | 'fps'>): void {
  const header = Buffer.from(`YUV4MPEG2 W${o.width} H${o.height} F${o.fps}:1 Ip A1:1 C420jpeg\n`);
  const frame = yuv420(rgb, o.width, o.height);
  const marker = Buffer.from('FRAME\n');
  const parts: Buffer[] = [header];
  for (let i = 0; i < o.frames; i++) parts.push(marker, frame);
  writeFileSync(file, Buffer.concat(parts));
}
