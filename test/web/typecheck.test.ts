// The web app has its own tsconfig (DOM libraries, Preact JSX); the root type-check does not
// cover it, so this does.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('web: type-check');
const root = join(import.meta.dirname, '..', '..');

test('tsc -p web is clean', () => {
  let out = '';
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'web', '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  assert.is(out, '');
});

test.run();
