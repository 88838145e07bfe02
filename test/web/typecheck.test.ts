// The web app has its own tsconfig (DOM libraries, Preact JSX), and its build config and icon
// script another (Node); the root type-check covers neither, so this does.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('web: type-check');
const root = join(import.meta.dirname, '..', '..');

for (const project of ['web', 'web/scripts']) {
  test(`tsc -p ${project} is clean`, () => {
    let out = '';
    try {
      execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project, '--pretty', 'false'], {
        cwd: root,
        encoding: 'utf8',
      });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? err);
    }
    assert.is(out, '');
  });
}

test.run();
