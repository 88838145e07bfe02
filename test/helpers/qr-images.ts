// Reading QR codes back out of rendered output, as a phone would: PDF pages rasterised by
// pdftoppm, SVG rasterised by headless Chromium, PNG as it is, each decoded with jsQR.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { launch } from '../web/browser';

export interface Image {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export function readPng(buf: Buffer): Image {
  const png = PNG.sync.read(buf);
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Decodes one QR, or null when none is found. */
export function decodeOne(img: Image): string | null {
  return jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' })?.data ?? null;
}

function crop(img: Image, x0: number, y0: number, x1: number, y1: number): Image {
  const width = x1 - x0;
  const data = new Uint8ClampedArray(width * (y1 - y0) * 4);
  for (let y = y0; y < y1; y++) data.set(img.data.subarray((y * img.width + x0) * 4, (y * img.width + x1) * 4), (y - y0) * width * 4);
  return { width, height: y1 - y0, data };
}

const TILE = 8;

/**
 * Every QR on an image, without knowing the layout: ink is grouped into blobs (tiles of 8x8
 * pixels that hold a dark pixel, joined to their neighbours), and each blob is decoded on its own,
 * since jsQR reads one code per image. Blobs that are text decode to nothing.
 */
export function decodeAll(img: Image): string[] {
  const tw = Math.ceil(img.width / TILE);
  const th = Math.ceil(img.height / TILE);
  const ink = new Uint8Array(tw * th);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i]! + img.data[i + 1]! + img.data[i + 2]! < 3 * 96) ink[Math.floor(y / TILE) * tw + Math.floor(x / TILE)] = 1;
    }
  }
  const found: string[] = [];
  const seen = new Uint8Array(tw * th);
  for (let start = 0; start < ink.length; start++) {
    if (!ink[start] || seen[start]) continue;
    let [minX, minY, maxX, maxY] = [tw, th, 0, 0];
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const t = stack.pop()!;
      const tx = t % tw;
      const ty = Math.floor(t / tw);
      [minX, minY, maxX, maxY] = [Math.min(minX, tx), Math.min(minY, ty), Math.max(maxX, tx), Math.max(maxY, ty)];
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = tx + dx;
          const ny = ty + dy;
          const n = ny * tw + nx;
          if (nx >= 0 && ny >= 0 && nx < tw && ny < th && ink[n] && !seen[n]) {
            seen[n] = 1;
            stack.push(n);
          }
        }
      }
    }
    if (maxX - minX < 3 || maxY - minY < 3) continue;
    const region = crop(
      img,
      Math.max(0, (minX - 2) * TILE),
      Math.max(0, (minY - 2) * TILE),
      Math.min(img.width, (maxX + 3) * TILE),
      Math.min(img.height, (maxY + 3) * TILE),
    );
    const text = decodeOne(region);
    if (text !== null) found.push(text);
  }
  return found;
}

/** Each page of a PDF as an image, rasterised by poppler's pdftoppm. */
export async function pdfPages(pdfPath: string, dpi = 150): Promise<Image[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-pdf-'));
  try {
    await promisify(execFile)('pdftoppm', ['-r', String(dpi), '-png', pdfPath, join(dir, 'page')]);
    const pages = readdirSync(dir)
      .filter((f) => f.endsWith('.png'))
      .sort();
    return pages.map((f) => readPng(readFileSync(join(dir, f))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each SVG document rasterised by headless Chromium, at `scale` device pixels per CSS pixel. */
export async function rasteriseSvgs(svgs: string[], scale = 3): Promise<Image[]> {
  const browser = await launch();
  try {
    const page = await browser.newPage({ deviceScaleFactor: scale });
    const out: Image[] = [];
    for (const svg of svgs) {
      await page.setContent(`<!doctype html><html><body style="margin:0;background:#fff">${svg}</body></html>`);
      out.push(readPng(await page.locator('svg').screenshot()));
    }
    return out;
  } finally {
    await browser.close();
  }
}
