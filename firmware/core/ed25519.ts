// Ed25519 signature verification (RFC 8032, section 5.1.7) on BigInt, so it runs unchanged on XS.
// The Moddable SDK has no Ed25519 (its crypt modules offer ECDSA over NIST curves only), and the
// device must check a release's signature before it downloads a byte of the image
// (docs/architecture.md, Over-the-air updates). Verification only: no secret ever reaches a
// device, so constant time does not matter here.
import { sha512 } from './sha512';

const P = 2n ** 255n - 19n;
/** Order of the base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
/** sqrt(-1) mod P. */
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;
const BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;

/** Extended twisted Edwards coordinates: x = X/Z, y = Y/Z, x*y = T/Z. */
interface Point {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

const BASE: Point = { X: BX, Y: BY, Z: 1n, T: (BX * BY) % P };
const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function pow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function add(p: Point, q: Point): Point {
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(2n * D * p.T * q.T);
  const d = mod(2n * p.Z * q.Z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function double(p: Point): Point {
  const a = mod(p.X * p.X);
  const b = mod(p.Y * p.Y);
  const c = mod(2n * p.Z * p.Z);
  const h = a + b;
  const e = h - mod((p.X + p.Y) * (p.X + p.Y));
  const g = a - b;
  const f = c + g;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function negate(p: Point): Point {
  return { X: mod(-p.X), Y: p.Y, Z: p.Z, T: mod(-p.T) };
}

/** [a]P + [b]Q in one pass (Shamir's trick): half the doublings of two separate multiplications. */
function doubleScalarMul(a: bigint, p: Point, b: bigint, q: Point): Point {
  const pq = add(p, q);
  let r = IDENTITY;
  const bits = Math.max(a.toString(2).length, b.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    r = double(r);
    const abit = (a >> BigInt(i)) & 1n;
    const bbit = (b >> BigInt(i)) & 1n;
    if (abit && bbit) r = add(r, pq);
    else if (abit) r = add(r, p);
    else if (bbit) r = add(r, q);
  }
  return r;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function encode(p: Point): Uint8Array {
  const zInv = pow(p.Z, P - 2n);
  const x = mod(p.X * zInv);
  let y = mod(p.Y * zInv);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(y & 0xffn);
    y >>= 8n;
  }
  if (x & 1n) out[31] = out[31]! | 0x80;
  return out;
}

/** Decodes a compressed point (RFC 8032, 5.1.3); null when the bytes are not one. */
function decode(bytes: Uint8Array): Point | null {
  const copy = Uint8Array.from(bytes);
  const sign = copy[31]! >> 7;
  copy[31] = copy[31]! & 0x7f;
  const y = littleEndian(copy);
  if (y >= P) return null;
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = (((v * v) % P) * v) % P;
  let x = mod(u * v3 * pow((u * ((v3 * v3) % P) * v) % P, (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return null;
    x = mod(x * SQRT_M1);
  }
  if (x === 0n && sign === 1) return null;
  if (Number(x & 1n) !== sign) x = P - x;
  return { X: x, Y: y, Z: 1n, T: mod(x * y) };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * True when `signature` (64 bytes) is `publicKey`'s (32 bytes) Ed25519 signature of `message`.
 * Cofactorless check [S]B = R + [k]A, with S < L and R re-encoded byte for byte, as RFC 8032 and
 * OpenSSL (the release tool's signer) do.
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const a = decode(publicKey);
  if (a === null) return false;
  const rBytes = signature.subarray(0, 32);
  if (decode(rBytes) === null) return false;
  const s = littleEndian(signature.subarray(32, 64));
  if (s >= L) return false;
  const k = littleEndian(sha512(concat(rBytes, publicKey, message))) % L;
  const check = encode(doubleScalarMul(s, BASE, k, negate(a)));
  for (let i = 0; i < 32; i++) if (check[i] !== rBytes[i]) return false;
  return true;
}
