// Firmware releases (docs/architecture.md, Over-the-air updates): uploaded by an admin as the
// image, its manifest text and the signature, accepted only when the signature verifies against
// a configured release key and the image is what the manifest says. The image goes into the
// content-addressed blob store; the row keeps the signed text exactly as signed.
import { createHash } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { MAX_IMAGE_BYTES, parseManifestText, type ReleaseManifest } from '../../protocol/ota';
import type { Context } from '../context';
import { appendAudit } from '../store/audit';
import type { ReleaseKeys } from './release-keys';
import { otaDb, registryOf, type ReleasesTable } from './schema';

/** What this module reads of the node's context. */
export type ReleasesContext = Pick<Context, 'blobs' | 'db' | 'log' | 'now'>;

export interface ReleaseUpload {
  manifest: string;
  sig: string;
  image: Buffer;
}

export interface ReleaseView extends ReleaseManifest {
  createdAt: number;
  createdBy: string;
  /** Devices that report this version now. */
  devices: number;
}

export async function createRelease(ctx: ReleasesContext, keys: ReleaseKeys, actor: string, u: ReleaseUpload): Promise<ReleaseView> {
  if (keys.count === 0)
    throw new ProtocolError(ErrorCode.UNAVAILABLE, 'no release public key is configured (--release-public-keys): no release can be accepted');
  // The signature first: nothing an unsigned upload says is believed, not even its version.
  if (!/^[A-Za-z0-9+/]{86}==$/.test(u.sig) || !keys.verifies(u.manifest, u.sig)) {
    throw new ProtocolError(ErrorCode.BAD_SIGNATURE, 'the manifest is not signed by a configured release key', 'sig');
  }
  const manifest = parseManifestText(u.manifest, ErrorCode.BAD_REQUEST);
  const sha = createHash('sha256').update(u.image).digest('hex');
  if (u.image.length !== manifest.size || sha !== manifest.sha256) {
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `the image (${u.image.length} bytes, sha256 ${sha}) is not the one the manifest describes`, 'image');
  }
  const db = otaDb(ctx.db);
  const existing = await db.selectFrom('releases').selectAll().where('version', '=', manifest.version).executeTakeFirst();
  if (existing !== undefined) {
    if (existing.manifest === u.manifest) return releaseView(existing, await countOn(ctx, existing.version));
    throw new ProtocolError(ErrorCode.CONFLICT, `release ${manifest.version} exists with another image; give the new one its own version`, 'manifest');
  }
  await ctx.blobs.put(u.image, { maxBytes: MAX_IMAGE_BYTES });
  const now = ctx.now();
  const row: ReleasesTable = {
    version: manifest.version,
    models: JSON.stringify(manifest.models),
    size: manifest.size,
    sha256: manifest.sha256,
    min_version: manifest.minVersion ?? null,
    notes: manifest.notes ?? null,
    manifest: u.manifest,
    sig: u.sig,
    created_at: now,
    created_by: actor,
  };
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('releases').values(row).execute();
    await appendAudit(registryOf(trx), {
      at: now,
      actor,
      action: 'release.created',
      detail: { version: manifest.version, sha256: manifest.sha256, models: manifest.models },
    });
  });
  ctx.log.info({ version: manifest.version, size: manifest.size, actor }, 'firmware release accepted');
  return releaseView(row, await countOn(ctx, manifest.version));
}

async function countOn(ctx: ReleasesContext, version: string): Promise<number> {
  const r = await ctx.db
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('fw', '=', version)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function getRelease(ctx: ReleasesContext, version: string): Promise<ReleasesTable | undefined> {
  return otaDb(ctx.db).selectFrom('releases').selectAll().where('version', '=', version).executeTakeFirst();
}

export async function listReleases(ctx: ReleasesContext): Promise<ReleaseView[]> {
  const rows = await otaDb(ctx.db).selectFrom('releases').selectAll().orderBy('created_at', 'desc').execute();
  const counts = await ctx.db
    .selectFrom('devices')
    .select(['fw', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('fw')
    .execute();
  const byFw = new Map(counts.map((c) => [c.fw, Number(c.n)]));
  return rows.map((r) => releaseView(r, byFw.get(r.version) ?? 0));
}

export function releaseView(r: ReleasesTable, devices: number): ReleaseView {
  const v: ReleaseView = {
    version: r.version,
    models: JSON.parse(r.models) as string[],
    size: Number(r.size),
    sha256: r.sha256,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    devices,
  };
  if (r.min_version !== null) v.minVersion = r.min_version;
  if (r.notes !== null) v.notes = r.notes;
  return v;
}
