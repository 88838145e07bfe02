// Identity-provider flags: one key source, issuer and audience required, secrets long enough,
// and --jwt-auto-provision as a bare switch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseOptions } from '../../broker/config';

const base = ['--jwt-issuer', 'https://idp.example', '--jwt-audience', 'fleet'];

test('a JWKS URL with issuer and audience turns identity-provider tokens on, with defaults', () => {
  const o = parseOptions([...base, '--jwks-url', 'https://idp.example/jwks.json', '--jwt-auto-provision'], {});
  assert.equal(o.jwt, {
    issuer: 'https://idp.example',
    audience: 'fleet',
    jwksUrl: 'https://idp.example/jwks.json',
    agentClaim: 'sub',
    nameClaim: 'name',
    autoProvision: true,
    jwksCooldownMs: 30_000,
  });
  assert.is(parseOptions([], {}).jwt, undefined, 'off without flags');
  assert.is(
    parseOptions([], { FLEETBIND_JWT_ISSUER: 'i', FLEETBIND_JWT_AUDIENCE: 'a', FLEETBIND_JWT_SECRET: 's'.repeat(32), FLEETBIND_JWT_AUTO_PROVISION: 'no' }).jwt
      ?.autoProvision,
    false,
  );
});

test('misconfigurations are refused with a message naming the flags', () => {
  assert.throws(() => parseOptions(['--jwks-url', 'https://idp.example/jwks.json'], {}), /--jwt-issuer and --jwt-audience/);
  assert.throws(() => parseOptions([...base], {}), /need a key/);
  assert.throws(() => parseOptions([...base, '--jwks-url', 'https://x/j', '--jwt-secret', 's'.repeat(32)], {}), /one of --jwks-url/);
  assert.throws(() => parseOptions([...base, '--jwt-secret', 'short'], {}), /at least 32 characters/);
  assert.throws(() => parseOptions([...base, '--jwks-url', 'ftp://idp/j'], {}), /--jwks-url must start with/);
});

test.run();
