// The modules the device core loads (firmware/core and the protocol/ it imports), found by
// following imports from the core's entry points with esbuild, as module specifiers the
// manifest uses ("firmware/core/core", "protocol/messages").
import { build } from 'esbuild';
import { relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const ENTRIES = ['firmware/core/core.ts', 'firmware/core/improv-device.ts', 'firmware/core/display-text.ts', 'firmware/core/font-text.ts'];

export async function coreModules(): Promise<string[]> {
  const r = await build({
    entryPoints: ENTRIES.map((e) => resolve(root, e)),
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'neutral',
    outdir: '/nonexistent',
    logLevel: 'silent',
  });
  return Object.keys(r.metafile.inputs)
    .map((p) => relative(root, resolve(root, p)).replace(/\.ts$/, ''))
    .sort();
}
