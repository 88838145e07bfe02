// Agent identity from the operator's identity provider: a test IdP on loopback serves a JWKS,
// agent 263 logs in over REST and MQTT with its token and claims a device, keys rotate, an
// expired token closes the live connection, and every bad token is refused with its own reason.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, base64url } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { JwtOptions } from '../../broker/auth/jwt';
import { ErrorCode, type TokenRefusal } from '../../protocol/errors';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { expectRestError } from '../helpers/errors';
import { TestIdp, signingKey } from '../helpers/idp';
import { metric } from '../helpers/metrics';
import { connectRefused, end, waitClosed } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

let idp: TestIdp;
let tb: TestBroker;

function jwtOpts(over: Partial<JwtOptions>): JwtOptions {
  return { issuer: idp.issuer, audience: idp.audience, agentClaim: 'sub', nameClaim: 'name', autoProvision: true, jwksCooldownMs: 4000, ...over };
}

const me = (b: TestBroker, token: string) => b.api('GET', '/api/me', undefined, token);

async function refusals(b: TestBroker, via: string, reason: TokenRefusal): Promise<number> {
  const text = await (await fetch(`${b.broker.httpUrl}/metrics`)).text();
  return metric(text, 'fleetbind_token_refusals_total', { via, reason });
}

/** MQTT refuses the token and counts it under its reason. */
async function expectMqttRefused(b: TestBroker, token: string, reason: TokenRefusal, username: string): Promise<void> {
  const before = await refusals(b, 'mqtt', reason);
  const err = await connectRefused(b.broker.mqttUrl, { clientId: `${username}:jwt-${randomBytes(3).toString('hex')}`, username, password: token });
  assert.match(err.message, /Bad username or password|Not authorized/);
  assert.is(await refusals(b, 'mqtt', reason), before + 1, `MQTT refusal counted as ${reason}`);
}

/** REST and MQTT both refuse the token, each with the reason word, and count it. */
async function expectRefused(
  b: TestBroker,
  token: string,
  reason: TokenRefusal,
  username = 'agent:263',
  status = 401,
  code: string = ErrorCode.UNAUTHORIZED,
): Promise<void> {
  const r = await me(b, token);
  expectRestError(r, status, code);
  assert.is(r.body.error.reason, reason, JSON.stringify(r.body));
  assert.not.match(JSON.stringify(r.body), token.split('.')[2] || token, 'the answer does not echo the token');
  await expectMqttRefused(b, token, reason, username);
}

const identity = suite('JWT agent identity (JWKS)');
identity.before(async () => {
  idp = await TestIdp.start();
  tb = await TestBroker.start({ jwt: jwtOpts({ jwksUrl: idp.jwksUrl }) });
});
identity.after(async () => {
  await tb.stop();
  await idp.close();
});

identity('agent 263 logs in over REST and MQTT with its token and claims a device', async () => {
  const token = await idp.sign({ sub: 263, claims: { name: 'test vk' } });
  const r = await me(tb, token);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body, { kind: 'agent', id: '263', name: 'test vk', username: 'agent:263' });
  const again = await me(tb, await idp.sign({ sub: ' 263 ' }));
  assert.is(again.body.id, '263', '263 and " 263 " are one agent');
  const agents = await tb.api('GET', '/api/agents');
  assert.is(agents.body.filter((a: { id: string }) => a.id === '263').length, 1, 'created once, on first use');

  const dev = await tb.provision();
  const d = await tb.device(dev);
  const agent = await connectAgent(tb.broker.mqttUrl, '263', token);
  const res = await request(agent, { kind: 'agent', id: '263' }, { op: 'claim', target: dev.id });
  assert.is(res.ok, true, JSON.stringify(res));
  assert.is(tb.ctx.bindings.agentOf(dev.id), '263');
  const rest = await tb.api('GET', `/api/devices/${dev.id}`, undefined, token);
  assert.is(rest.status, 200, 'the agent reads its own device with the token');
  await end(agent, d.client);
});

identity('key rotation: an unknown kid fetches the JWKS once, rate-limited, and old keys stop working', async () => {
  const oldToken = await idp.sign({ sub: 'rotor' });
  assert.is((await me(tb, oldToken)).status, 200);
  const fetchesBefore = idp.fetches;
  const k2 = await idp.rotate('k2');
  // The cooldown after the last fetch (4 s here) may still run; wait it out, as time would.
  await new Promise((r) => setTimeout(r, 4100));
  const newToken = await idp.sign({ sub: 'rotor', key: k2 });
  assert.is((await me(tb, newToken)).status, 200, 'a token signed with the rotated-in key verifies');
  assert.is(idp.fetches, fetchesBefore + 1, 'one refetch for the new kid');
  const rogue = await signingKey('k-unknown');
  const t1 = await idp.sign({ sub: 'rotor', key: rogue });
  const t2 = await idp.sign({ sub: 'rotor', key: rogue });
  assert.is((await me(tb, t1)).body.error.reason, 'unknown-key');
  assert.is((await me(tb, t2)).body.error.reason, 'unknown-key');
  // Unknown kids refetch at most once per cooldown. Counting fetches alone assumed the two
  // requests land inside the 4 s window, which a loaded machine does not promise.
  const gaps = idp.fetchedAt.slice(fetchesBefore + 1).map((at, i) => at - idp.fetchedAt[fetchesBefore + i]!);
  assert.ok(
    gaps.every((g) => g >= 4000 - 50),
    `unknown kids refetch at most once per cooldown: gaps ${gaps.join(', ')} ms`,
  );
  await expectRefused(tb, t1, 'unknown-key', 'agent:rotor');
  await expectRefused(tb, oldToken, 'unknown-key', 'agent:rotor');
});

identity('an expired token closes the live MQTT connection within a second of expiry', async () => {
  const token = await idp.sign({ sub: 263, expiresIn: 2 });
  const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
  const client = await connectAgent(tb.broker.mqttUrl, '263', token);
  await waitClosed(client, 5000);
  const late = Date.now() - exp * 1000;
  assert.ok(late >= -50 && late < 1000, `closed ${late} ms after expiry`);
  assert.is((await me(tb, token)).body.error.reason, 'expired', 'REST refuses it too');
  assert.ok((await refusals(tb, 'mqtt-live', 'expired')) >= 1);
  await end(client);
});

identity('every bad token is refused with its own reason, logged without the token and counted', async () => {
  const now = Math.floor(Date.now() / 1000);
  const header = (h: object) => base64url.encode(JSON.stringify(h));
  const body = (p: object) => base64url.encode(JSON.stringify(p));
  const none = `${header({ alg: 'none', typ: 'JWT' })}.${body({ sub: '263', iss: idp.issuer, aud: idp.audience, exp: now + 600 })}.`;
  await expectRefused(tb, none, 'alg-none');
  const hs = await new SignJWT({ sub: '263' })
    .setProtectedHeader({ alg: 'HS256', kid: 'k2' })
    .setIssuer(idp.issuer)
    .setAudience(idp.audience)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode('x'.repeat(32)));
  await expectRefused(tb, hs, 'alg-not-allowed');
  const forger = await signingKey(idp.keys[0]!.kid);
  await expectRefused(tb, await idp.sign({ sub: '263', key: forger }), 'bad-signature');
  await expectRefused(tb, await idp.sign({ sub: '263', issuer: 'https://evil.example' }), 'wrong-issuer');
  await expectRefused(tb, await idp.sign({ sub: '263', audience: 'another-service' }), 'wrong-audience');
  await expectRefused(tb, await idp.sign({ sub: '263', expiresIn: -60 }), 'expired');
  await expectRefused(tb, await idp.sign({ sub: '263', claims: { nbf: now + 3600 } }), 'not-yet-valid');
  await expectRefused(tb, await idp.sign({ sub: '263', expiresIn: null }), 'missing-claim');
  await expectRefused(tb, await idp.sign({ claims: { name: 'no subject' } }), 'missing-claim');
  await expectRefused(tb, 'bm90LWEtand0.bm90LWpzb24.c2ln', 'malformed');
  await expectRefused(tb, await idp.sign({ sub: 'Not An Id!' }), 'bad-agent-id', 'agent:x');
  // REST has no username: only MQTT can name another agent than the token's.
  await expectMqttRefused(tb, await idp.sign({ sub: '263' }), 'agent-mismatch', 'agent:264');

  await tb.createAgent('benched');
  await tb.api('PATCH', '/api/agents/benched', { disabled: true });
  await expectRefused(tb, await idp.sign({ sub: 'benched' }), 'agent-disabled', 'agent:benched', 403, ErrorCode.FORBIDDEN);

  const logged = await tb.api('GET', '/metrics', undefined, undefined);
  assert.match(String(logged.body), /fleetbind_token_refusals_total\{via="rest",reason="alg-none"\} [1-9]/);
});

identity.run();

const sources = suite('JWT key sources and provisioning');
let extra: TestBroker[] = [];
sources.before(async () => {
  idp = await TestIdp.start();
});
sources.after(async () => {
  for (const b of extra) await b.stop();
  extra = [];
  await idp.close();
});

sources('HS256 secret without auto-provision: known agents only', async () => {
  const secret = randomBytes(32).toString('hex');
  const b = await TestBroker.start({ jwt: jwtOpts({ secret, autoProvision: false }) });
  extra.push(b);
  const sign = (sub: string) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(secret));
  await expectRefused(b, await sign('263'), 'unknown-agent');
  await b.createAgent(263);
  assert.is((await me(b, await sign('263'))).body.id, '263');
  await expectRefused(b, await idp.sign({ sub: '263' }), 'alg-not-allowed');
});

sources('a PEM public key (Ed25519) verifies EdDSA tokens only', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const file = join(mkdtempSync(join(tmpdir(), 'fleetbind-jwt-')), 'idp.pem');
  writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
  const b = await TestBroker.start({ jwt: jwtOpts({ publicKeyFile: file }) });
  extra.push(b);
  const token = await new SignJWT({ sub: 'ed-agent' })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(idp.issuer)
    .setAudience(idp.audience)
    .setExpirationTime('10m')
    .sign(privateKey);
  assert.is((await me(b, token)).body.id, 'ed-agent');
  await expectRefused(b, await idp.sign({ sub: 'ed-agent' }), 'alg-not-allowed', 'agent:ed-agent');
});

sources('ES256: a P-256 key from the JWKS and from a PEM file verifies ES256 tokens; an RS256 token against the PEM is refused', async () => {
  const es = await signingKey('es1', 'ES256');
  const rs = idp.keys[0]!;
  idp.keys = [es, rs];
  try {
    const b = await TestBroker.start({ jwt: jwtOpts({ jwksUrl: idp.jwksUrl }) });
    extra.push(b);
    assert.is((await me(b, await idp.sign({ sub: 'es-agent', key: es }))).body.id, 'es-agent');
    assert.is((await me(b, await idp.sign({ sub: 'rs-agent', key: rs }))).body.id, 'rs-agent', 'both keys of the JWKS verify');
  } finally {
    idp.keys = [rs];
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const file = join(mkdtempSync(join(tmpdir(), 'fleetbind-jwt-')), 'idp-p256.pem');
  writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
  const b = await TestBroker.start({ jwt: jwtOpts({ publicKeyFile: file }) });
  extra.push(b);
  const token = await new SignJWT({ sub: 'es-pem' })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(idp.issuer)
    .setAudience(idp.audience)
    .setExpirationTime('10m')
    .sign(privateKey);
  assert.is((await me(b, token)).body.id, 'es-pem');
  await expectRefused(b, await idp.sign({ sub: 'es-pem' }), 'alg-not-allowed', 'agent:es-pem');
});

sources('an unreachable JWKS answers 503 with jwks-unavailable', async () => {
  const b = await TestBroker.start({ jwt: jwtOpts({ jwksUrl: 'http://127.0.0.1:9/jwks.json' }) });
  extra.push(b);
  await expectRefused(b, await idp.sign({ sub: '263' }), 'jwks-unavailable', 'agent:263', 503, ErrorCode.UNAVAILABLE);
});

sources.run();

const logged = suite('JWT refusals in the log');

logged('a refused token is logged with its reason and where it came from, never the token itself', async () => {
  const secret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-jwt-log-'));
  const b = await BrokerProcess.start(dataDir, randomBytes(24).toString('hex'), [
    '--jwt-issuer',
    'https://idp.log.example',
    '--jwt-audience',
    'fleet',
    '--jwt-secret',
    secret,
  ]);
  try {
    const sign = (aud: string, expiresIn: string) =>
      new SignJWT({ sub: '263' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('https://idp.log.example')
        .setAudience(aud)
        .setExpirationTime(expiresIn)
        .sign(new TextEncoder().encode(secret));
    const wrong = await sign('another-service', '10m');
    const expired = await sign('fleet', '-1m');
    assert.is((await fetch(`${b.httpUrl}/api/me`, { headers: { authorization: `Bearer ${wrong}` } })).status, 401);
    await connectRefused(b.mqttUrl, { clientId: 'agent:263:log', username: 'agent:263', password: expired });
    const refusals = await waitUntil(
      () => {
        const lines = b.logLines().filter((l) => l.msg === 'identity-provider token refused');
        return lines.length >= 2 ? lines : undefined;
      },
      10_000,
      'both refusals logged',
    );
    assert.equal(refusals.map((l) => [l.via, l.reason]).sort(), [
      ['mqtt', 'expired'],
      ['rest', 'wrong-audience'],
    ]);
    for (const t of [wrong, expired]) {
      assert.not.ok(b.stdout.includes(t.split('.')[2]!) || b.stderr.includes(t.split('.')[2]!), 'no token signature in the log');
      assert.not.ok(b.stdout.includes(t.split('.')[1]!), 'no token payload in the log');
    }
  } finally {
    await b.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

logged.run();
