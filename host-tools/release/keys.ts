// Release keys (docs/architecture.md, Over-the-air updates). The private key signs release
// manifests and lives with whoever cuts releases: a file or an environment variable, never the
// broker's data dir. Devices get the public key at flash time (NVS `otakey`), the broker in its
// settings; both as base64 of the raw 32 bytes.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { relative, resolve } from 'node:path';

export const RELEASE_KEY_ENV = 'FLEETBIND_RELEASE_KEY';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class ReleaseKeyError extends Error {}

/** A public key as devices and the broker hold it: base64 of 32 bytes, from that form or a PEM. */
export function publicKeyBase64(text: string): string {
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) {
    const key = createPublicKey(t.includes('PRIVATE KEY') ? createPrivateKey(t) : t);
    return rawPublicKey(key).toString('base64');
  }
  const raw = Buffer.from(t, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== t) throw new ReleaseKeyError('a release public key is base64 of 32 bytes (or a PEM)');
  return t;
}

export function rawPublicKey(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ReleaseKeyError(`release keys are Ed25519, this one is ${key.asymmetricKeyType ?? 'not an asymmetric key'}`);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

/** The node:crypto public key for base64 raw bytes. */
export function publicKeyFromBase64(b64: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(publicKeyBase64(b64), 'base64')]), format: 'der', type: 'spki' });
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}

function real(path: string): string {
  return existsSync(path) ? realpathSync(path) : resolve(path);
}

/**
 * The signing key from a PEM file (`keyPath`) or else the FLEETBIND_RELEASE_KEY variable (PEM
 * text). A key file inside the broker's data dir is refused: a release key the broker can read
 * would let whoever takes the broker sign firmware.
 */
export function loadReleaseKey(keyPath: string | undefined, env: NodeJS.ProcessEnv, dataDir: string): KeyObject {
  let pem: string;
  if (keyPath !== undefined) {
    const key = real(keyPath);
    if (inside(real(dataDir), key))
      throw new ReleaseKeyError(
        `refusing the release key ${keyPath}: it is inside the broker's data dir (${dataDir}); keep it where the broker cannot read it`,
      );
    if (!existsSync(key)) throw new ReleaseKeyError(`no release key at ${keyPath} (npm run release -- keygen --out FILE makes one)`);
    pem = readFileSync(key, 'utf8');
  } else if (env[RELEASE_KEY_ENV] !== undefined && env[RELEASE_KEY_ENV] !== '') {
    pem = env[RELEASE_KEY_ENV];
  } else {
    throw new ReleaseKeyError(`no release key: give --key FILE or set ${RELEASE_KEY_ENV} to the PEM`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ReleaseKeyError('the release key is not a PEM private key');
  }
  rawPublicKey(key);
  return key;
}

export function signManifest(manifestText: string, key: KeyObject): string {
  return sign(null, Buffer.from(manifestText, 'utf8'), key).toString('base64');
}

export function newReleaseKey(): { privatePem: string; publicBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicBase64: rawPublicKey(publicKey).toString('base64') };
}
