// npm install's prepare step: builds the web app the broker serves, when the build tools are
// installed. An install without devDependencies (a broker-only install, `npm ci --omit=dev`) has
// no vite: it skips the build, and the broker answers the app's pages with 503 until the app is
// built elsewhere or with a full install (docs/architecture.md, Parts and layout).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

if (!installed('vite')) {
  process.stdout.write('prepare: vite is not installed (an install without devDependencies); the web app is not built\n');
  process.exit(0);
}
const run = spawnSync('npm', ['run', 'build:web'], { stdio: 'inherit' });
process.exit(run.status ?? 1);
