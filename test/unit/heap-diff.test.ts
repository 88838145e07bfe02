// The heap snapshot reader behind bench:fleet's per-device memory breakdown: it reads the node and
// string tables straight from the file, and must count what a real snapshot holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { growthLines, heapGrowth } from '../../bench/lib/heap-diff';

class HeapDiffMarker {
  constructor(readonly n: number) {}
}

const t = suite('heap-diff');

t('counts the objects of a constructor made between two snapshots, and their own sizes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-heap-diff-'));
  try {
    const before = writeHeapSnapshot(join(dir, 'before.heapsnapshot'));
    const kept = Array.from({ length: 5000 }, (_, i) => new HeapDiffMarker(i));
    const after = writeHeapSnapshot(join(dir, 'after.heapsnapshot'));
    const rows = heapGrowth(before, after);
    const marker = rows.find((r) => r.key === 'HeapDiffMarker');
    assert.ok(marker, 'the marker class is listed');
    assert.is(marker.count, kept.length);
    // Each holds a header and one in-object field, so at least 16 bytes each.
    assert.ok(marker.bytes >= 16 * kept.length, String(marker.bytes));
    const lines = growthLines(rows, kept.length, 50);
    assert.match(lines.join('\n'), /1\.0 objects .*HeapDiffMarker/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
