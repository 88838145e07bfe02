// Reading a release artefact (artefact-manifest.ts) from disk: the manifest and the parts beside it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { firmwareFromManifest, parseArtefactManifest } from './artefact-manifest';
import { FlashError } from './errors';
import type { FirmwareBuild } from './firmware-images';

export { ARTEFACT_MANIFEST } from './artefact-manifest';

export function loadArtefact(manifestPath: string): FirmwareBuild[] {
  const path = resolve(manifestPath);
  const dir = dirname(path);
  const manifest = parseArtefactManifest(readFileSync(path, 'utf8'), path);
  return firmwareFromManifest(
    manifest,
    (part) => {
      const file = join(dir, part);
      if (!existsSync(file)) throw new FlashError('BUILD_MISSING', `${path} names ${part}, which is not there`);
      return new Uint8Array(readFileSync(file));
    },
    path,
  );
}
