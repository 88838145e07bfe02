// A signed firmware release uploaded as an operator does (docs/architecture.md, Over-the-air
// updates): the manifest (version, models, size, sha256 of the image) signed with the release key,
// and the image, as multipart to POST /api/releases.
import { type KeyObject, createHash, sign } from 'node:crypto';
import * as assert from 'uvu/assert';

export interface ReleaseUpload {
  version: string;
  models: string[];
  image: Buffer;
}

/** Uploads the release and asserts it was accepted (201). */
export async function uploadRelease(httpUrl: string, adminToken: string, key: KeyObject, r: ReleaseUpload): Promise<void> {
  const manifest = JSON.stringify({ version: r.version, models: r.models, size: r.image.length, sha256: createHash('sha256').update(r.image).digest('hex') });
  const form = new FormData();
  form.append('manifest', manifest);
  form.append('sig', sign(null, Buffer.from(manifest), key).toString('base64'));
  form.append('image', new Blob([new Uint8Array(r.image)]), 'app.bin');
  const up = await fetch(`${httpUrl}/api/releases`, { method: 'POST', body: form, headers: { authorization: `Bearer ${adminToken}` } });
  assert.is(up.status, 201, await up.text());
}
