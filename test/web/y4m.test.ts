// The camera video model: a label PNG written as YUV4MPEG2 must read back as a valid stream
// whose picture still decodes to the label's URL, or the camera test would prove nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQR from 'jsqr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { labelContent } from '../../host-tools/labels/label-content';
import { renderLabelPng } from '../../host-tools/labels/label-png';
import { labelFrameRgb, writeY4m, yuv420 } from './y4m';

const test = suite('web: y4m camera video');

test('header, frame markers and plane sizes follow YUV4MPEG2 4:2:0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-y4m-'));
  try {
    const file = join(dir, 'v.y4m');
    const rgb = new Uint8Array(8 * 4 * 3).fill(255);
    writeY4m(file, rgb, { width: 8, height: 4, frames: 3, fps: 10 });
    const buf = readFileSync(file);
    const header = 'YUV4MPEG2 W8 H4 F10:1 Ip A1:1 C420jpeg\n';
    assert.is(buf.subarray(0, header.length).toString(), header);
    const frameLen = 'FRAME\n'.length + 8 * 4 * 1.5;
    assert.is(buf.length, header.length + 3 * frameLen);
    assert.is(buf.subarray(header.length + frameLen, header.length + frameLen + 6).toString(), 'FRAME\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('white, black and pure colours convert with BT.601 full range', () => {
  const px = (r: number, g: number, b: number) => new Uint8Array([r, g, b, r, g, b, r, g, b, r, g, b]);
  assert.equal([...yuv420(px(255, 255, 255), 2, 2)], [255, 255, 255, 255, 128, 128]);
  assert.equal([...yuv420(px(0, 0, 0), 2, 2)], [0, 0, 0, 0, 128, 128]);
  const red = [...yuv420(px(255, 0, 0), 2, 2)];
  assert.equal(red.slice(0, 4), [76, 76, 76, 76]);
  assert.equal(red.slice(4), [85, 255]);
  assert.throws(() => yuv420(new Uint8Array(9), 3, 1), /even dimensions/);
});

test('the luma plane of a label frame still decodes to the label URL', () => {
  const url = 'http://127.0.0.1:8080/c/CT0700031.0123456789abcdef';
  const png = renderLabelPng(labelContent({ code: 'CT0700031', url, fleet: 'fleetbind' }));
  const rgb = labelFrameRgb(png, { width: 640, height: 480, background: 190 });
  const y = yuv420(rgb, 640, 480).subarray(0, 640 * 480);
  const rgba = new Uint8ClampedArray(640 * 480 * 4);
  for (let i = 0; i < y.length; i++) rgba.set([y[i]!, y[i]!, y[i]!, 255], i * 4);
  assert.is(jsQR(rgba, 640, 480)?.data, url);
});

test.run();
