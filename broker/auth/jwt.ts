// Verifies tokens from the operator's identity provider with jose: against a JWKS URL, a PEM
// public key or a shared HS256 secret (docs/architecture.md, "Agent identity from the operator's
// identity provider"). Every refusal carries its own reason word; the token itself is never kept.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type CryptoKey, type JWTPayload, type JWTVerifyGetKey, createRemoteJWKSet, decodeProtectedHeader, errors, importSPKI, jwtVerify } from 'jose';
import type { TokenRefusal } from '../../protocol/errors';
import { tryNormaliseId } from '../../protocol/ids';

export interface JwtOptions {
  issuer: string;
  audience: string;
  /** Exactly one of the three key sources. */
  jwksUrl?: string;
  publicKeyFile?: string;
  secret?: string;
  /** The claim holding the agent id (default `sub`). */
  agentClaim: string;
  /** The claim naming an auto-provisioned agent (default `name`). */
  nameClaim: string;
  autoProvision: boolean;
  /** Least time between two JWKS fetches caused by an unknown `kid`. */
  jwksCooldownMs: number;
}

export class TokenRefused extends Error {
  constructor(
    readonly reason: TokenRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRefused';
  }
}

export interface VerifiedToken {
  agent: string;
  /** The name claim, for an agent created on first use. */
  name: string | null;
  /** ms since epoch; a token without `exp` is refused, so live connections always have an end. */
  expiresAt: number;
}

// Only asymmetric algorithms come from a JWKS or a PEM key: accepting HS* there would let anyone
// holding the public key sign tokens with it as the HMAC secret.
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function algorithmOfPem(pem: string): string {
  const key = createPublicKey(pem);
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ES256';
      if (curve === 'secp384r1') return 'ES384';
      throw new Error(`--jwt-public-key: EC curve ${curve ?? '?'} is not supported (use P-256 or P-384)`);
    }
    default:
      throw new Error(`--jwt-public-key: a ${key.asymmetricKeyType ?? 'non-asymmetric'} key is not supported (use RSA, EC P-256/P-384 or Ed25519)`);
  }
}

function refusalOf(err: unknown, viaJwks: boolean): TokenRefused {
  if (err instanceof TokenRefused) return err;
  if (err instanceof errors.JWTExpired) return new TokenRefused('expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new TokenRefused('missing-claim', `the token has no "${err.claim}" claim`);
    if (err.claim === 'iss') return new TokenRefused('wrong-issuer', 'the token was issued by another issuer');
    if (err.claim === 'aud') return new TokenRefused('wrong-audience', 'the token is meant for another audience');
    if (err.claim === 'nbf' || err.claim === 'iat') return new TokenRefused('not-yet-valid', 'the token is not valid yet');
    return new TokenRefused('malformed', `the token's "${err.claim}" claim is invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new TokenRefused('alg-not-allowed', 'the token is signed with an algorithm this key does not allow');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRefused('bad-signature', 'the token signature does not verify');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return new TokenRefused('unknown-key', 'no key of the identity provider matches the token');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new TokenRefused('malformed', 'the token is not a well-formed JWT');
  // Anything else while resolving a remote key is the JWKS endpoint failing (timeout, HTTP error, bad JSON).
  if (viaJwks) return new TokenRefused('jwks-unavailable', 'the identity provider keys could not be fetched');
  throw err;
}

export class JwtVerifier {
  private constructor(
    private readonly o: JwtOptions,
    private readonly key: CryptoKey | Uint8Array | JWTVerifyGetKey,
    private readonly algorithms: string[],
  ) {}

  static async create(o: JwtOptions): Promise<JwtVerifier> {
    if (o.jwksUrl !== undefined) {
      const jwks = createRemoteJWKSet(new URL(o.jwksUrl), { cooldownDuration: o.jwksCooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
      return new JwtVerifier(o, jwks, JWKS_ALGORITHMS);
    }
    if (o.publicKeyFile !== undefined) {
      const pem = readFileSync(o.publicKeyFile, 'utf8');
      const alg = algorithmOfPem(pem);
      return new JwtVerifier(o, await importSPKI(pem, alg), [alg]);
    }
    if (o.secret !== undefined) return new JwtVerifier(o, new TextEncoder().encode(o.secret), ['HS256']);
    throw new Error('JWT agent identity needs --jwks-url, --jwt-public-key or --jwt-secret');
  }

  /** A bearer value shaped like a compact JWS (session tokens never contain dots). */
  static looksLikeJwt(token: string): boolean {
    return JWT_SHAPE.test(token);
  }

  get autoProvision(): boolean {
    return this.o.autoProvision;
  }

  async verify(token: string): Promise<VerifiedToken> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenRefused('malformed', 'the token is not a well-formed JWT');
    }
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw new TokenRefused('alg-none', 'unsigned tokens (alg "none") are never accepted');
    if (!this.algorithms.includes(alg)) throw new TokenRefused('alg-not-allowed', `alg ${alg} is not allowed for this key`);
    let payload: JWTPayload;
    try {
      const verified =
        typeof this.key === 'function' ? await jwtVerify(token, this.key, this.verifyOptions()) : await jwtVerify(token, this.key, this.verifyOptions());
      payload = verified.payload;
    } catch (err) {
      throw refusalOf(err, typeof this.key === 'function');
    }
    const agent = tryNormaliseId(payload[this.o.agentClaim]);
    if (agent === null) throw new TokenRefused('bad-agent-id', `the token's "${this.o.agentClaim}" claim is not a valid agent id`);
    const name = payload[this.o.nameClaim];
    return { agent, name: typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 128) : null, expiresAt: Number(payload.exp) * 1000 };
  }

  private verifyOptions() {
    return { issuer: this.o.issuer, audience: this.o.audience, algorithms: this.algorithms, requiredClaims: ['exp', this.o.agentClaim] };
  }
}
