// What grew between two V8 heap snapshots, by constructor: the sum of the objects' own sizes and
// their count, over each snapshot's live objects, divided by a count (devices) when given.
// Snapshots of a broker with thousands of clients exceed V8's longest string, so the file is not
// JSON.parse'd whole: the node table and the string table are read straight from the bytes.
//
//   npx tsx bench/lib/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 20]
import { readFileSync } from 'node:fs';
import { defineCli, readCli } from '../../host-tools/cli/args';

interface Group {
  count: number;
  bytes: number;
}

function indexAfter(buf: Buffer, marker: string, from = 0): number {
  const i = buf.indexOf(marker, from, 'latin1');
  if (i < 0) throw new Error(`not a V8 heap snapshot: no ${marker}`);
  return i + marker.length;
}

/** The numbers of a JSON array of non-negative integers starting at `at`, up to its `]`. */
function readInts(buf: Buffer, at: number): number[] {
  const out: number[] = [];
  let n = -1;
  for (let i = at; ; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) n = (n < 0 ? 0 : n * 10) + (c - 48);
    else {
      if (n >= 0) out.push(n);
      n = -1;
      if (c === 93) return out;
    }
  }
}

/** The JSON strings of an array starting at `at`, up to its `]`. */
function readStrings(buf: Buffer, at: number): string[] {
  const out: string[] = [];
  for (let i = at; ; i++) {
    const c = buf[i]!;
    if (c === 93) return out;
    if (c !== 34) continue;
    let j = i + 1;
    let escaped = false;
    for (; ; j++) {
      const d = buf[j]!;
      if (escaped) escaped = false;
      else if (d === 92) escaped = true;
      else if (d === 34) break;
    }
    out.push(JSON.parse(buf.toString('utf8', i, j + 1)) as string);
    i = j;
  }
}

/** Live objects grouped by type and constructor (or function name for closures). */
export function groupsOf(file: string): Map<string, Group> {
  const buf = readFileSync(file);
  const metaStart = indexAfter(buf, '"snapshot":');
  const nodesAt = indexAfter(buf, '"nodes":[', metaStart);
  const meta = JSON.parse(
    buf
      .toString('utf8', metaStart, nodesAt - '"nodes":['.length)
      .trim()
      .replace(/,$/, ''),
  ) as { meta: { node_fields: string[]; node_types: [string[]] } };
  const fields = meta.meta.node_fields;
  const types = meta.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const nodes = readInts(buf, nodesAt);
  const strings = readStrings(buf, indexAfter(buf, '"strings":['));
  const groups = new Map<string, Group>();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt!]!]!;
    const name = strings[nodes[i + nameAt!]!] ?? '?';
    const key = type === 'object' || type === 'native' ? name : type === 'closure' ? `(closure) ${name || 'anonymous'}` : `(${type})`;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + sizeAt!]!;
    groups.set(key, g);
  }
  return groups;
}

/** Growth per constructor from one snapshot to the other, largest first. */
export function heapGrowth(beforeFile: string, afterFile: string): { key: string; bytes: number; count: number }[] {
  const before = groupsOf(beforeFile);
  const rows = [...groupsOf(afterFile)].map(([key, a]) => {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    return { key, bytes: a.bytes - b.bytes, count: a.count - b.count };
  });
  return rows.sort((x, y) => y.bytes - x.bytes);
}

/** The growth as lines: bytes and objects per `per` (e.g. per device), and the share of the whole. */
export function growthLines(rows: { key: string; bytes: number; count: number }[], per: number, top: number): string[] {
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  return [
    `heap growth${per === 1 ? '' : ` per one of ${per}`}: ${(total / per / 1024).toFixed(1)} KiB (own sizes of live objects), by constructor:`,
    ...rows
      .slice(0, top)
      .map(
        (r) =>
          `  ${(r.bytes / per).toFixed(0).padStart(8)} B  ${(r.count / per).toFixed(1).padStart(7)} objects  ${((r.bytes / total) * 100).toFixed(1).padStart(5)} %  ${r.key}`,
      ),
  ];
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const { values, positionals } = readCli(
    defineCli({
      command: 'npx tsx bench/lib/heap-diff.ts',
      usage: ['BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 20]'],
      summary: 'What grew between two V8 heap snapshots, by constructor: bytes (own sizes) and objects, per N (e.g. devices) when given.',
      options: {
        per: { type: 'string', value: 'N', default: '1', help: 'divide the growth by N (e.g. the number of devices)' },
        top: { type: 'string', value: 'N', default: '20', help: 'how many constructors to list' },
      },
      positionals: { BEFORE: 'the earlier snapshot', AFTER: 'the later snapshot' },
    }),
  );
  const [beforeFile, afterFile] = positionals;
  if (!beforeFile || !afterFile) throw new Error('give two heap snapshots');
  console.log(growthLines(heapGrowth(beforeFile, afterFile), Number(values.per), Number(values.top)).join('\n'));
}
