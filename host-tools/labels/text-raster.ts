// Glyph outlines filled into a grayscale pixel buffer: curves flattened to lines, each pixel
// sampled 4×4 with the nonzero winding rule, so text in the PNG label is anti-aliased and has the
// same shapes and widths as in the PDF.
import type { PathCommand } from 'fontkit';
import { type FontWeight, labelFont } from './label-font';

const SS = 4;
const CURVE_STEPS = 8;

export interface Gray {
  width: number;
  height: number /** One byte a pixel, 0 black to 255 white. */;
  data: Uint8Array;
}

type Edge = [number, number, number, number];

/** The outline's edges in pixel coordinates (font units scaled, y pointing down). */
function edgesOf(commands: PathCommand[], ox: number, oy: number, scale: number, out: Edge[]): void {
  let [sx, sy, cx, cy] = [0, 0, 0, 0];
  const px = (x: number) => ox + x * scale;
  const py = (y: number) => oy - y * scale;
  const line = (x: number, y: number) => {
    out.push([px(cx), py(cy), px(x), py(y)]);
    [cx, cy] = [x, y];
  };
  for (const { command, args: a } of commands) {
    if (command === 'moveTo') [sx, sy, cx, cy] = [a[0]!, a[1]!, a[0]!, a[1]!];
    else if (command === 'lineTo') line(a[0]!, a[1]!);
    else if (command === 'closePath') line(sx, sy);
    else {
      const [x0, y0] = [cx, cy];
      for (let i = 1; i <= CURVE_STEPS; i++) {
        const t = i / CURVE_STEPS;
        const u = 1 - t;
        if (command === 'quadraticCurveTo') line(u * u * x0 + 2 * u * t * a[0]! + t * t * a[2]!, u * u * y0 + 2 * u * t * a[1]! + t * t * a[3]!);
        else
          line(
            u ** 3 * x0 + 3 * u * u * t * a[0]! + 3 * u * t * t * a[2]! + t ** 3 * a[4]!,
            u ** 3 * y0 + 3 * u * u * t * a[1]! + 3 * u * t * t * a[3]! + t ** 3 * a[5]!,
          );
      }
    }
  }
  if (cx !== sx || cy !== sy) line(sx, sy);
}

/** Draws one line of text with its left end at x and its baseline at y, `size` pixels to the em. */
export function drawText(img: Gray, text: string, x: number, baseline: number, size: number, weight: FontWeight): void {
  const font = labelFont(weight);
  const scale = size / font.unitsPerEm;
  const run = font.layout(text);
  const edges: Edge[] = [];
  let pen = x;
  run.glyphs.forEach((g, i) => {
    const p = run.positions[i]!;
    edgesOf(g.path.commands, pen + p.xOffset * scale, baseline - p.yOffset * scale, scale, edges);
    pen += p.xAdvance * scale;
  });
  if (edges.length === 0) return;
  const top = Math.max(0, Math.floor(Math.min(...edges.map((e) => Math.min(e[1], e[3])))));
  const bottom = Math.min(img.height, Math.ceil(Math.max(...edges.map((e) => Math.max(e[1], e[3])))));
  const cover = new Uint16Array(img.width);
  for (let row = top; row < bottom; row++) {
    cover.fill(0);
    for (let s = 0; s < SS; s++) {
      const y = row + (s + 0.5) / SS;
      const hits: Array<[number, number]> = [];
      for (const [x0, y0, x1, y1] of edges) {
        if (y0 === y1 || y < Math.min(y0, y1) || y >= Math.max(y0, y1)) continue;
        hits.push([x0 + ((y - y0) * (x1 - x0)) / (y1 - y0), y1 > y0 ? 1 : -1]);
      }
      hits.sort((a, b) => a[0] - b[0]);
      let winding = 0;
      for (let h = 0; h < hits.length - 1; h++) {
        winding += hits[h]![1];
        if (winding === 0) continue;
        // Subsamples at (j + 0.5) / SS inside [from, to).
        const from = Math.max(0, Math.ceil(hits[h]![0] * SS - 0.5));
        const to = Math.min(img.width * SS - 1, Math.ceil(hits[h + 1]![0] * SS - 0.5) - 1);
        for (let j = from; j <= to; j++) cover[Math.floor(j / SS)]!++;
      }
    }
    for (let col = 0; col < img.width; col++) {
      if (cover[col] === 0) continue;
      const i = row * img.width + col;
      img.data[i] = Math.min(img.data[i]!, 255 - Math.round((cover[col]! * 255) / (SS * SS)));
    }
  }
}
