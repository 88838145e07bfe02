// Summarises a V8 .cpuprofile (node --cpu-prof) for a benchmark note: the busiest functions by
// self time, self time grouped by where the code lives (node_modules package, broker file), and
// the broker's own functions by total time (themselves and all they call). A spans file (a JSON
// list of [start, end] in µs of the monotonic clock, which the profile's timestamps use, e.g.
// bench:claims' bursts.json) keeps only the samples taken within those spans.
//
//   npx tsx bench/lib/profile-top.ts <file.cpuprofile> [top=20] [spans.json]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, spansFile] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top <file.cpuprofile> [top] [spans.json]');
const top = Number(topArg ?? 20);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const spans = spansFile === undefined ? null : (JSON.parse(readFileSync(spansFile, 'utf8')) as [number, number][]);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
let at = p.startTime;
for (const [i, id] of p.samples.entries()) {
  const dt = p.timeDeltas[i] ?? 0;
  at += dt;
  if (spans !== null && !spans.some(([s, e]) => at >= s && at <= e)) continue;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
}

const where = (url: string): string => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const own = /\/(broker|protocol|bench|test)\/(.*)$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url.startsWith('node:') ? url : url === '' ? '(native/vm)' : url;
};

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
const busy = total - idle;
const fns = new Map<string, number>();
const places = new Map<string, number>();
const totals = new Map<string, number>();
for (const [id, us] of selfUs) {
  const f = byId.get(id)!.callFrame;
  if (f.functionName === '(idle)') continue;
  const place = where(f.url);
  const key = `${f.functionName || '(anonymous)'}  ${place}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  places.set(place, (places.get(place) ?? 0) + us);
  // Total time: each broker or protocol function on the stack counted once, however deep it recurs.
  const seen = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const c = byId.get(n)!.callFrame;
    const own = where(c.url);
    if (!own.startsWith('broker/') && !own.startsWith('protocol/')) continue;
    const k = `${c.functionName || '(anonymous)'}  ${own}:${c.lineNumber + 1}`;
    if (seen.has(k)) continue;
    seen.add(k);
    totals.set(k, (totals.get(k) ?? 0) + us);
  }
}
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
console.log(`${file}: ${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s sampled${spans === null ? '' : ` within ${spans.length} spans`}`);
console.log(`top ${top} functions by self time (share of busy time):`);
for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
console.log('by package or file:');
for (const [k, us] of [...places].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
console.log('broker functions by total time (their own and everything they call):');
for (const [k, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
