// The per-image progress display: redrawn in place on a terminal, a line per quarter elsewhere,
// with bytes, rate and ETA computed from the clock it is given.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBytes, Progress } from '../../host-tools/flash/progress';

function fakeOut(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, write: (t: string) => writes.push(t) } };
}

const test = suite('flash: progress');

test('off a terminal: one line per quarter, with size, rate and ETA', () => {
  const { writes, out } = fakeOut(false);
  let now = 0;
  const p = new Progress(out, () => now);
  p.startImage('app @0x10000', 400 * 1024);
  for (let done = 0; done <= 400 * 1024; done += 16 * 1024) {
    now += 100;
    p.update(done);
  }
  assert.is(writes.length, 4);
  // 208 KiB after 1.4 s: 148.6 KiB/s, 192 KiB to go: 1.3 s, shown as 2s.
  assert.is(writes[1], '  app @0x10000     [############------------]  52%  208.0 KiB/400.0 KiB  148.6 KiB/s  ETA 2s\n');
  assert.match(writes[3]!, /100%\s+400\.0 KiB\/400\.0 KiB .* ETA 0s\n$/);
});

test('on a terminal: redraws one line, and ends it before the next step', () => {
  const { writes, out } = fakeOut(true);
  let now = 0;
  const p = new Progress(out, () => now);
  p.startImage('nvs @0x9000', 1000);
  now = 500;
  p.update(500);
  now = 1000;
  p.update(1000);
  p.step('Verifying');
  assert.ok(writes[0]!.startsWith('\r') && writes[1]!.startsWith('\r'));
  assert.equal(writes.slice(2), ['\n', '• Verifying\n']);
});

test('sizes are shown in the unit that reads best', () => {
  assert.equal([formatBytes(117), formatBytes(22_560), formatBytes(3 * 1024 * 1024)], ['117 B', '22.0 KiB', '3.00 MiB']);
});

test.run();
