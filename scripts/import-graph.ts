// The import graph of a source folder, type-only imports included, and its circles. `npm run
// import-graph -- broker` prints every circle (and exits 1) or, with none, which folder imports
// which; test/unit/import-graph.test.ts holds broker/ to none (docs/architecture.md, Parts and layout).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from '@babel/parser';
import { defineCli, readCli } from '../host-tools/cli/args';

/** Each file (relative to the folder) with the files of the same folder tree it imports. */
export type ImportGraph = Map<string, Set<string>>;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function importGraph(dir: string): ImportGraph {
  const root = resolve(dir);
  const files = new Set(sources(root));
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const deps = new Set<string>();
    // Every static import and re-export counts, `import type` and `export type … from` included.
    const program = parse(readFileSync(file, 'utf8'), { sourceType: 'module', plugins: ['typescript'] }).program;
    for (const statement of program.body) {
      if (statement.type !== 'ImportDeclaration' && statement.type !== 'ExportNamedDeclaration' && statement.type !== 'ExportAllDeclaration') continue;
      const fileName = statement.source?.value;
      if (fileName === undefined || !fileName.startsWith('.')) continue;
      const base = resolve(dirname(file), fileName.replace(/\.js$/, ''));
      const target = [`${base}.ts`, join(base, 'index.ts')].find((p) => files.has(p));
      if (target) deps.add(relative(root, target));
    }
    graph.set(relative(root, file), deps);
  }
  return graph;
}

/** The strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function circles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Which folder imports which (a file directly in the root is in folder "."). */
export function folderEdges(graph: ImportGraph): string[] {
  const edges = new Set<string>();
  for (const [file, deps] of graph) for (const dep of deps) if (dirname(file) !== dirname(dep)) edges.add(`${dirname(file)} -> ${dirname(dep)}`);
  return [...edges].sort();
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = readCli(
    defineCli({
      command: 'npm run import-graph --',
      usage: ['DIR'],
      summary: 'Prints the circles in the import graph of DIR (type imports included) and exits 1 if there is one; with none, which folder imports which.',
      options: {},
      positionals: { DIR: 'the source folder, e.g. broker' },
    }),
  );
  const graph = importGraph(args.positionals[0] as string);
  const found = circles(graph);
  for (const c of found) console.log(`circle of ${c.length}: ${c.join(' ')}`);
  if (found.length > 0) process.exit(1);
  for (const edge of folderEdges(graph)) console.log(edge);
}
