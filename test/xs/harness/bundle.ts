// Bundles the XS side of the harness (the real firmware/core + protocol + scripted platform)
// into one ES2022 script with esbuild, as XS 13 evaluates it. `replace` swaps a module for
// another file, to show what happens when the core uses something XS lacks.
import { build, type Plugin } from 'esbuild';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..', '..');
export const XS_ENTRY = join(root, 'test', 'xs', 'harness', 'xs-entry.ts');

export interface BundleOptions {
  entry?: string;
  /** Absolute module path without extension → absolute path of the file to use instead. */
  replace?: Record<string, string>;
}

function replaceModules(replace: Record<string, string>): Plugin {
  return {
    name: 'replace-modules',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined;
        const target = replace[resolve(args.resolveDir, args.path)];
        return target === undefined ? undefined : { path: target };
      });
    },
  };
}

export async function bundleForXs(options: BundleOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [options.entry ?? XS_ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2022',
    platform: 'neutral',
    logLevel: 'silent',
    plugins: options.replace ? [replaceModules(options.replace)] : [],
  });
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no output for the XS bundle');
  return file.text;
}

export const repoPath = (...parts: string[]): string => join(root, ...parts);
