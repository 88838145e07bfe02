// The pieces the label renderers share: QR runs, the PNG bitmap font, and the fleet CLI's tables.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph, glyphChars, textWidth } from '../../host-tools/labels/bitmap-font';
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
    for (let row = 0; row < m.size; row++) for (let col = 0; col < m.size; col++) assert.is(painted.has(`${row},${col}`), m.dark(row, col), `module ${row},${col}`);
  }
});

t('every glyph is 5x7 ink or blank, and the machine-code characters all look different', () => {
  for (const ch of glyphChars()) {
    const g = glyph(ch);
    assert.is(g.length, GLYPH_HEIGHT, ch);
    for (const line of g) assert.ok(new RegExp(`^[#.]{${GLYPH_WIDTH}}$`).test(line), `${ch}: ${line}`);
  }
  const codeChars = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'];
  const shapes = codeChars.map((c) => glyph(c).join('/'));
  assert.is(new Set(shapes).size, codeChars.length);
  assert.equal(glyph('a'), glyph('A'), 'lower case is drawn as upper case');
  assert.equal(glyph('é'), glyph('?'), 'anything else as ?');
  assert.is(textWidth('CT07'), 4 * 6 - 1);
});

t('tables align columns, show absent values as -, and times in UTC', () => {
  const text = table(['ID', 'NAME', 'N'], [['a', 'long name', 1], ['bbbb', null, '']]);
  assert.is(text, ['ID    NAME       N', 'a     long name  1', 'bbbb  -          -'].join('\n'));
  assert.is(time(Date.UTC(2025, 0, 2, 3, 4, 5)), '2025-01-02 03:04:05Z');
  assert.is(time(null), '-');
});

t.run();
