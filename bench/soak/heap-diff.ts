// What grew between two V8 heap snapshots, by constructor: the count and self size of the objects
// of each name in one snapshot, and the difference between two, largest growth first. Usable on
// its own: `tsx bench/soak/heap-diff.ts A.heapsnapshot B.heapsnapshot`.
import { readFileSync } from 'node:fs';

export type HeapCensus = Map<string, { count: number; bytes: number }>;

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Counts a snapshot's objects by constructor name (closures, strings and arrays by their type). */
export function readHeapSnapshot(file: string): HeapCensus {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const fields = raw.snapshot.meta.node_fields;
  const types = raw.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const census: HeapCensus = new Map();
  for (let i = 0; i < raw.nodes.length; i += width) {
    const type = types[raw.nodes[i + typeAt]!]!;
    // Objects are named by their constructor; strings, code and the like only by their type.
    const name = type === 'object' || type === 'native' ? raw.strings[raw.nodes[i + nameAt]!]! : `(${type})`;
    const c = census.get(name) ?? { count: 0, bytes: 0 };
    c.count++;
    c.bytes += raw.nodes[i + sizeAt]!;
    census.set(name, c);
  }
  return census;
}

export function diffByConstructor(before: HeapCensus, after: HeapCensus): { name: string; count: number; bytes: number }[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names]
    .map((name) => ({
      name,
      count: (after.get(name)?.count ?? 0) - (before.get(name)?.count ?? 0),
      bytes: (after.get(name)?.bytes ?? 0) - (before.get(name)?.bytes ?? 0),
    }))
    .filter((r) => r.count !== 0 || r.bytes !== 0)
    .sort((x, y) => y.bytes - x.bytes);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [a, b] = process.argv.slice(2);
  if (a === undefined || b === undefined) {
    process.stderr.write('usage: tsx bench/soak/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot\n');
    process.exit(2);
  }
  for (const r of diffByConstructor(readHeapSnapshot(a), readHeapSnapshot(b)).slice(0, 40)) console.log(`${r.name}\t${r.count}\t${r.bytes}`);
}
