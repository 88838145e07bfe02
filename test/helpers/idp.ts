// A test identity provider on loopback: signs agent tokens with jose and serves its public keys
// as a JWKS over HTTP, counting fetches, with key rotation.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, type JWK, type JWTPayload, SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface TokenSpec {
  sub?: unknown;
  claims?: JWTPayload & Record<string, unknown>;
  /** Seconds from now; null leaves `exp` out. */
  expiresIn?: number | null;
  issuer?: string;
  audience?: string;
  key?: SigningKey;
  kid?: string;
}

export class TestIdp {
  fetches = 0;
  /** When each fetch arrived (Date.now()), to check the broker's rate limit on refetches. */
  fetchedAt: number[] = [];
  keys: SigningKey[] = [];
  readonly issuer = 'https://idp.test.example';
  readonly audience = 'fleetbind-test';

  private constructor(
    private readonly server: Server,
    readonly jwksUrl: string,
  ) {}

  static async start(): Promise<TestIdp> {
    let self: TestIdp | null = null;
    const server = createServer((req, res) => {
      if (req.url !== '/jwks.json' || self === null) {
        res.writeHead(404).end();
        return;
      }
      self.fetches++;
      self.fetchedAt.push(Date.now());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: self.keys.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const idp = new TestIdp(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`);
    self = idp;
    idp.keys = [await signingKey('k1')];
    return idp;
  }

  /** Replaces the published keys with a new one; tokens signed with the old key stop verifying. */
  async rotate(kid: string): Promise<SigningKey> {
    const k = await signingKey(kid);
    this.keys = [k];
    return k;
  }

  sign(spec: TokenSpec = {}): Promise<string> {
    const key = spec.key ?? this.keys[0]!;
    const now = Math.floor(Date.now() / 1000);
    // A numeric sub is what some providers send for ids like 263; jose's types only allow strings.
    const payload = { ...(spec.sub !== undefined ? { sub: spec.sub } : {}), ...spec.claims } as JWTPayload;
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: spec.kid ?? key.kid, typ: 'JWT' })
      .setIssuer(spec.issuer ?? this.issuer)
      .setAudience(spec.audience ?? this.audience)
      .setIssuedAt(now);
    if (spec.expiresIn !== null) jwt.setExpirationTime(now + (spec.expiresIn ?? 600));
    return jwt.sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
