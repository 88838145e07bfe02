// npm run build: compiles the broker and the command-line tools to plain JavaScript in dist/, so
// production runs `node dist/broker/main.js` (the `fleetbind` bin) without transpiling at start.
// Each entry becomes one ES module with its npm dependencies left as imports. The bundles sit two
// folders below the project root, like their sources, so paths built from import.meta.dirname
// (the web app, package.json, the firmware build) still resolve.
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { defineCli, readCli } from '../host-tools/cli/args';

readCli(
  defineCli({
    command: 'npm run build --',
    usage: [''],
    summary: 'Compiles the broker to dist/broker/main.js (the fleetbind bin) and the tools to dist/tools/*.js. npm run build:web builds the web app it serves.',
    options: {},
  }),
);

const root = join(import.meta.dirname, '..');
const BUILD_ENTRIES: Record<string, string> = {
  'broker/main': 'broker/main.ts',
  'tools/fleet': 'host-tools/fleet/cli.ts',
  'tools/labels': 'host-tools/labels/cli.ts',
  'tools/flash': 'host-tools/flash/cli.ts',
  'tools/simulate': 'host-tools/simulate/cli.ts',
  'tools/nvs': 'host-tools/nvs/cli.ts',
};

const out = join(root, 'dist');
for (const dir of ['broker', 'tools']) rmSync(join(out, dir), { recursive: true, force: true });
const started = Date.now();
await build({
  absWorkingDir: root,
  entryPoints: Object.entries(BUILD_ENTRIES).map(([o, i]) => ({ out: o, in: i })),
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync(join(out, 'broker', 'main.js'), 0o755);
console.log(
  `build: ${Object.keys(BUILD_ENTRIES)
    .map((e) => `dist/${e}.js`)
    .join(', ')} in ${Date.now() - started} ms`,
);
