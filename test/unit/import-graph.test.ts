// broker/ has no import circle, type-only imports included, and the checker finds one when
// there is one (docs/architecture.md, Parts and layout).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { circles, folderEdges, importGraph } from '../../scripts/import-graph';
import { suite } from '../helpers/suite';

const t = suite('import graph');
const root = join(import.meta.dirname, '..', '..');

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'import-graph-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

t('broker/ has no circle, counting type imports', () => {
  const graph = importGraph(join(root, 'broker'));
  assert.ok(graph.size > 100, `read ${graph.size} files`);
  assert.ok(graph.get('server.ts')?.has('context.ts') || [...graph.values()].some((d) => d.has('context.ts')), 'imports were resolved');
  assert.equal(circles(graph), []);
});

t('a circle through a type-only import and an index file is found, with its files', () => {
  const dir = tree({
    'context.ts': "import type { Jobs } from './jobs';\nexport interface Context { jobs: Jobs }\n",
    'jobs/index.ts': "export { Engine as Jobs } from './engine';\n",
    'jobs/engine.ts': "import type { Context } from '../context.js';\nexport class Engine { constructor(readonly ctx: Context) {} }\n",
    'leaf.ts': "// import type { Context } from './context';\nconst s = \"import './jobs'\";\nexport default s;\n",
  });
  try {
    const graph = importGraph(dir);
    assert.equal(circles(graph), [['context.ts', 'jobs/engine.ts', 'jobs/index.ts']]);
    assert.equal([...(graph.get('leaf.ts') ?? [])], [], 'comments and strings are not imports');
    assert.equal(folderEdges(graph), ['. -> jobs', 'jobs -> .']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('a file importing itself is a circle; a chain is not', () => {
  const dir = tree({
    'a.ts': "import './b';\n",
    'b.ts': "import './c';\n",
    'c.ts': "import type { X } from './c';\nexport type X = 1;\n",
  });
  try {
    assert.equal(circles(importGraph(dir)), [['c.ts']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
