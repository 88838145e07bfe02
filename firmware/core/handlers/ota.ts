// ota: install a signed release (docs/architecture.md, Over-the-air updates). In order: the
// manifest's Ed25519 signature against the release keys written at flash time, then what the
// manifest promises (this model, not below the device's floor, fits the partition), and only
// then the download: HTTP in chunks, each written to the update partition and hashed as it
// arrives; a dropped connection resumes with Range from the last byte written. A hash mismatch
// cancels the partition, so nothing unverified is ever made bootable. On success the ack is
// `done` (installed) and the device restarts into the new image on trial (ota-trial.ts).
import { compareVersions, parseManifestText, type OtaParams, type ReleaseManifest } from '../../../protocol/ota';
import { decodeBase64 } from '../base64';
import { ed25519Verify } from '../ed25519';
import { errorSummary } from '../error-summary';
import type { JobContext, JobHandler } from '../job-handler';
import { writePending } from '../ota-pending';
import type { Ota, OtaSlot, Platform } from '../platform';
import { Sha256 } from '../sha256';
import { utf8Encode } from '../utf8';

/** Resumes after a dropped download, each after twice the previous pause. */
export const OTA_RESUMES = 5;
const RESUME_BASE_MS = 2_000;
/** Time for the `done` ack to leave before the restart cuts the connection. */
const RESTART_DELAY_MS = 1_000;

function releaseKeys(platform: Platform): Uint8Array[] {
  const raw = platform.prefs.get('otakey') ?? '';
  const keys: Uint8Array[] = [];
  for (const part of raw.split(',')) {
    const text = part.trim();
    if (text === '') continue;
    try {
      const key = decodeBase64(text);
      if (key.length === 32) keys.push(key);
    } catch {
      platform.log('warn', 'ignored a malformed release key in preferences (otakey)');
    }
  }
  return keys;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/** Why this release must not be installed here, or null; checked before any byte is fetched. */
function refusal(p: OtaParams, platform: Platform, ota: Ota): { error: string } | { manifest: ReleaseManifest } {
  const keys = releaseKeys(platform);
  if (keys.length === 0) return { error: 'NO_RELEASE_KEY: no release public key was written at flash time (otakey)' };
  let sig: Uint8Array;
  try {
    sig = decodeBase64(p.sig);
  } catch {
    return { error: 'BAD_SIGNATURE: the signature is not base64' };
  }
  const message = utf8Encode(p.manifest);
  if (!keys.some((key) => ed25519Verify(sig, message, key))) return { error: 'BAD_SIGNATURE: the manifest is not signed by a release key this device trusts' };
  let manifest: ReleaseManifest;
  try {
    manifest = parseManifestText(p.manifest);
  } catch (e) {
    return { error: `BAD_MANIFEST: ${errorSummary(e)}` };
  }
  if (manifest.size !== p.size || manifest.sha256 !== p.sha256) return { error: 'BAD_MANIFEST: size or sha256 differ from the signed manifest' };
  const model = platform.facts.model;
  if (!manifest.models.includes(model)) return { error: `WRONG_MODEL: the release is for ${manifest.models.join(', ')}, this device is ${model}` };
  const floor = platform.prefs.get('otafloor');
  if (floor !== undefined && compareVersions(manifest.version, floor) < 0) {
    return { error: `DOWNGRADE: ${manifest.version} is below this device's minimum version ${floor}` };
  }
  const capacity = ota.capacity();
  if (manifest.size > capacity) return { error: `NO_SPACE: the image has ${manifest.size} bytes, the update partition ${capacity}` };
  return { manifest };
}

class Download {
  private slot: OtaSlot | null = null;
  private fetch: { abort(): void } | null = null;
  private timer: unknown = null;
  private readonly hash = new Sha256();
  private received = 0;
  private resumes = 0;
  private reported = -1;
  private over = false;

  constructor(
    private readonly p: OtaParams,
    private readonly manifest: ReleaseManifest,
    private readonly ota: Ota,
    private readonly ctx: JobContext,
  ) {}

  start(): void {
    this.slot = this.ota.begin(this.p.size);
    this.request();
  }

  cancel(): void {
    this.stop();
    this.slot?.cancel();
    this.slot = null;
  }

  private request(): void {
    const offset = this.received;
    let status = 0;
    this.fetch = this.ota.fetch(this.p.url, offset, {
      onStatus: (s) => {
        status = s;
        if (s !== (offset === 0 ? 200 : 206)) this.fail(`HTTP: status ${s} for bytes from ${offset}`);
      },
      onData: (chunk) => {
        if (this.over || status === 0) return;
        if (this.received + chunk.length > this.p.size) return this.fail(`TOO_LONG: the server sent more than ${this.p.size} bytes`);
        this.slot?.write(chunk);
        this.hash.update(chunk);
        this.received += chunk.length;
        const percent = Math.floor((this.received * 100) / this.p.size);
        if (percent >= this.reported + 10 || this.received === this.p.size) {
          this.reported = percent;
          this.ctx.progress(percent);
        }
      },
      onEnd: (error) => {
        this.fetch = null;
        if (this.over) return;
        if (this.received === this.p.size) return this.finish();
        this.resume(error ?? `the body ended after ${this.received} of ${this.p.size} bytes`);
      },
    });
  }

  private resume(why: string): void {
    if (this.resumes >= OTA_RESUMES) return this.fail(`DOWNLOAD: ${why}; gave up after ${OTA_RESUMES} resumes`);
    const delay = RESUME_BASE_MS * 2 ** this.resumes;
    this.resumes++;
    this.ctx.platform.log('warn', 'update download dropped; resuming', { received: this.received, size: this.p.size, why: why.slice(0, 96), inMs: delay });
    this.timer = this.ctx.platform.setTimer(delay, () => {
      this.timer = null;
      if (!this.over) this.request();
    });
  }

  private finish(): void {
    const got = hex(this.hash.digest());
    if (got !== this.p.sha256) return this.fail(`HASH_MISMATCH: the image's sha256 is ${got}, the manifest says ${this.p.sha256}`);
    const slot = this.slot;
    this.slot = null;
    this.over = true;
    const platform = this.ctx.platform;
    try {
      slot?.complete();
    } catch (e) {
      this.ctx.fail(`INSTALL: ${errorSummary(e)}`);
      return;
    }
    const pending = { job: this.ctx.job, version: this.manifest.version, from: platform.facts.fw };
    writePending(platform.prefs, this.manifest.minVersion === undefined ? pending : { ...pending, floor: this.manifest.minVersion });
    platform.log('info', 'update installed; restarting into it', { version: this.manifest.version });
    this.ctx.done({ installed: this.manifest.version });
    platform.setTimer(RESTART_DELAY_MS, () => this.ota.restart());
  }

  private fail(error: string): void {
    if (this.over) return;
    this.cancel();
    this.ctx.fail(error);
  }

  private stop(): void {
    this.over = true;
    if (this.timer !== null) this.ctx.platform.clearTimer(this.timer);
    this.timer = null;
    const f = this.fetch;
    this.fetch = null;
    f?.abort();
  }
}

export const otaHandler: JobHandler<'ota'> = {
  kind: 'ota',
  available: (platform) => platform.ota !== undefined,
  start(p, ctx) {
    const ota = ctx.platform.ota;
    if (ota === undefined) {
      ctx.fail('UNSUPPORTED: this board cannot update itself');
      return { cancel() {} };
    }
    const checked = refusal(p, ctx.platform, ota);
    if ('error' in checked) {
      ctx.fail(checked.error);
      return { cancel() {} };
    }
    if (checked.manifest.version === ctx.platform.facts.fw) {
      ctx.done({ installed: checked.manifest.version, unchanged: true });
      return { cancel() {} };
    }
    ctx.progress(0);
    const download = new Download(p, checked.manifest, ota, ctx);
    download.start();
    return { cancel: () => download.cancel() };
  },
};
