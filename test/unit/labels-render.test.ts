// The pieces the label renderers share: QR runs, the labels' font and its fitting, and the fleet
// CLI's tables.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MIN_FONT_SIZE, fitLine, printable, textWidth } from '../../host-tools/labels/label-font';
import { darkRuns, qrMatrix } from '../../host-tools/labels/qr-matrix';
import { table, time } from '../../host-tools/fleet/table';

const t = suite('label rendering pieces');

t('dark runs cover exactly the dark modules of the QR, without overlap', () => {
  for (const url of ['https://fleet.example.com/c/CT0700026.8dd19e87ccf25b77', `https://x/c/${'A'.repeat(32)}.0123456789abcdef`]) {
    const m = qrMatrix(url);
    const painted = new Set<string>();
    for (const r of darkRuns(m)) {
      assert.ok(r.length > 0);
      for (let c = r.col; c < r.col + r.length; c++) {
        assert.not.ok(painted.has(`${r.row},${c}`), 'runs do not overlap');
        painted.add(`${r.row},${c}`);
      }
    }
    for (let row = 0; row < m.size; row++)
      for (let col = 0; col < m.size; col++) assert.is(painted.has(`${row},${col}`), m.dark(row, col), `module ${row},${col}`);
  }
});

t('one font measures text for every label format: lines fit the width, shrink, and are cut short last', () => {
  assert.ok(textWidth('CT0700026', 20, 'bold') > textWidth('CT0700026', 20, 'regular'), 'bold is wider');
  assert.is(textWidth('MM', 10, 'regular'), 2 * textWidth('M', 10, 'regular'));
  assert.equal(fitLine('CT07', 30, 500, 'bold'), { text: 'CT07', size: 30 }, 'short text keeps its size');
  const shrunk = fitLine('fleet.example.com/c/CT0700026.8dd19e87ccf25b77', 12, 150, 'regular');
  assert.ok(shrunk.size < 12 && shrunk.size >= MIN_FONT_SIZE, String(shrunk.size));
  assert.ok(textWidth(shrunk.text, shrunk.size, 'regular') <= 150 + 1e-9);
  const cut = fitLine('x'.repeat(400), 12, 100, 'regular');
  assert.is(cut.size, MIN_FONT_SIZE);
  assert.ok(cut.text.endsWith('…') && textWidth(cut.text, cut.size, 'regular') <= 100, cut.text);
  assert.is(printable('Flotte Zürich 東', 'regular'), 'Flotte Zürich ?', 'a character without a glyph prints as ?');
});

t('tables align columns, show absent values as -, and times in UTC', () => {
  const text = table(
    ['ID', 'NAME', 'N'],
    [
      ['a', 'long name', 1],
      ['bbbb', null, ''],
    ],
  );
  assert.is(text, ['ID    NAME       N', 'a     long name  1', 'bbbb  -          -'].join('\n'));
  assert.is(time(Date.UTC(2025, 0, 2, 3, 4, 5)), '2025-01-02 03:04:05Z');
  assert.is(time(null), '-');
});

t.run();
