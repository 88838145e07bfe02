// REST authentication: login (agents by any spelling of their id, the first-run admin), /api/me,
// logout, idle expiry, failed-login rate limits, the operator's admin token, and admin-only routes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { TestBroker, api, connectAgent } from '../helpers/broker';
import { expectRestError } from '../helpers/errors';
import { metric } from '../helpers/metrics';
import { ManualClock } from '../helpers/manual-clock';
import { connectRefused, end } from '../helpers/mqtt';

let tb: TestBroker;

const login = (b: TestBroker, id: unknown, password: string, headers: Record<string, string> = {}) =>
  fetch(`${b.broker.httpUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ id, password }),
  }).then(async (r) => ({
    status: r.status,
    retryAfter: r.headers.get('retry-after'),
    body: (await r.json()) as any,
  }));

const sessions = suite('REST sessions');
sessions.before(async () => {
  tb = await TestBroker.start();
});
sessions.after(async () => {
  await tb.stop();
});

sessions('an agent created as 263 logs in as 263, "263" and " 263 " and is the same agent', async () => {
  const a = await tb.createAgent(263, { password: 'password-263' });
  assert.is(a.id, '263');
  for (const spelling of [263, '263', ' 263 ']) {
    const r = await login(tb, spelling, 'password-263');
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.equal([r.body.kind, r.body.id, r.body.username], ['agent', '263', 'agent:263']);
    const me = await tb.api('GET', '/api/me', undefined, r.body.token);
    assert.equal(me.body, { kind: 'agent', id: '263', name: 'Agent 263', username: 'agent:263' });
  }
});

sessions('the first-run admin logs in as admin:admin with the password from initial-admin.txt', async () => {
  const file = readFileSync(join(tb.dataDir, 'initial-admin.txt'), 'utf8');
  assert.match(file, /^username: admin:admin$/m);
  const password = /^password: (\S+)$/m.exec(file)![1]!;
  assert.is(tb.broker.firstAdmin?.password, password);
  const r = await login(tb, 'admin:admin', password);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.is(r.body.kind, 'admin');
  assert.equal((await tb.api('GET', '/api/me', undefined, r.body.token)).body, { kind: 'admin', id: 'admin', name: 'admin', username: 'admin:admin' });
  assert.is((await tb.api('GET', '/api/agents', undefined, r.body.token)).status, 200, 'an admin session reaches admin routes');
  expectRestError(await login(tb, 'admin:admin', `${password}x`), 401, ErrorCode.UNAUTHORIZED);
});

sessions('logout ends the session for REST and for MQTT', async () => {
  const a = await tb.createAgent('leaver');
  const token = await tb.login('leaver', a.password);
  const client = await connectAgent(tb.broker.mqttUrl, 'leaver', token);
  await end(client);
  assert.is((await tb.api('POST', '/api/logout', undefined, token)).status, 204);
  expectRestError(await tb.api('GET', '/api/me', undefined, token), 401, ErrorCode.UNAUTHORIZED);
  const refused = await connectRefused(tb.broker.mqttUrl, { clientId: 'agent:leaver:again', username: 'agent:leaver', password: token });
  assert.match(refused.message, /Bad username or password/);
});

sessions('the operator admin token is an admin; agent tokens, no token and unknown tokens are refused on admin routes', async () => {
  assert.equal((await tb.api('GET', '/api/me')).body, { kind: 'admin', id: 'token', name: 'token', username: 'admin:token' });
  const a = await tb.createAgent('plain');
  const token = await tb.login('plain', a.password);
  for (const [method, path, body] of [
    ['GET', '/api/agents'],
    ['POST', '/api/agents', { id: 'sneaky', name: 'S', password: 'password1' }],
    ['GET', '/api/devices'],
    ['POST', '/api/devices', { mac: 'a4cf12b4c9e0' }],
    ['GET', '/api/audit'],
    ['POST', '/api/enrollment-tokens', { uses: 1, expiresIn: '1h' }],
    ['GET', '/api/labels/CT1'],
    ['GET', '/api/bindings'],
  ] as [string, string, unknown?][]) {
    expectRestError(await tb.api(method, path, body, token), 403, ErrorCode.FORBIDDEN);
    expectRestError(await api(tb.broker.httpUrl, method, path, body), 401, ErrorCode.UNAUTHORIZED);
    expectRestError(await tb.api(method, path, body, `${tb.adminToken}x`), 401, ErrorCode.UNAUTHORIZED);
  }
  assert.is((await tb.api('GET', '/api/agents/sneaky')).status, 404, 'the refused create created nothing');
});

sessions('failed logins are rate-limited per username with 429 and retry-after; other users are not affected', async () => {
  const victim = await tb.createAgent('victim', { password: 'victim-password' });
  const bystander = await tb.createAgent('bystander', { password: 'bystander-password' });
  const before = metric((await tb.api('GET', '/metrics')).body, 'fleetbind_auth_failures_total', { kind: 'login', reason: 'rate-limited' });
  for (let i = 0; i < 5; i++) expectRestError(await login(tb, 'victim', `guess-${i}`), 401, ErrorCode.UNAUTHORIZED);
  for (const password of ['guess-6', victim.password]) {
    const r = await login(tb, 'victim', password);
    expectRestError(r, 429, ErrorCode.RATE_LIMITED);
    assert.ok(Number(r.retryAfter) > 0, `retry-after: ${r.retryAfter}`);
  }
  // The MQTT side shares the limit: a connect as the throttled username is refused too.
  const refused = await connectRefused(tb.broker.mqttUrl, { clientId: 'agent:victim:mqtt', username: 'agent:victim', password: 'whatever' });
  assert.match(refused.message, /Not authorized/i);
  assert.is((await login(tb, 'bystander', bystander.password)).status, 200);
  const after = metric((await tb.api('GET', '/metrics')).body, 'fleetbind_auth_failures_total', { kind: 'login', reason: 'rate-limited' });
  assert.is(after, before + 2);
});

const idle = suite('REST session idle expiry');
let short: TestBroker;
const IDLE_MS = 1000;
/** The test moves the broker's clock past the idle time instead of sleeping. */
const clock = new ManualClock();
idle.before(async () => {
  short = await TestBroker.start({ sessionIdleMs: IDLE_MS, clock });
});
idle.after(async () => {
  await short.stop();
});

idle('use keeps a session alive past the idle time; idleness ends it for REST and MQTT', async () => {
  const a = await short.createAgent('dozy');
  const r = await login(short, 'dozy', a.password);
  assert.is(r.body.idleTimeoutMs, IDLE_MS);
  // Each use slides the expiry; together they outlast one idle period.
  for (let i = 0; i < 3; i++) {
    clock.advance(IDLE_MS * 0.4);
    assert.is((await short.api('GET', '/api/me', undefined, r.body.token)).status, 200, `use ${i + 1}`);
  }
  await end(await connectAgent(short.broker.mqttUrl, 'dozy', r.body.token));
  clock.advance(IDLE_MS * 1.5);
  expectRestError(await short.api('GET', '/api/me', undefined, r.body.token), 401, ErrorCode.UNAUTHORIZED);
  const refused = await connectRefused(short.broker.mqttUrl, { clientId: 'agent:dozy:2', username: 'agent:dozy', password: r.body.token });
  assert.match(refused.message, /Bad username or password/);
});

const perIp = suite('REST failed-login limit per IP');
let ipb: TestBroker | null = null;
perIp.after.each(async () => {
  await ipb?.stop();
  ipb = null;
});

const spoof = (): Record<string, string> => ({ 'x-forwarded-for': `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.1` });

perIp('30 failures from one address block every username from it, whatever X-Forwarded-For says', async () => {
  ipb = await TestBroker.start();
  const a = await ipb.createAgent('honest', { password: 'honest-password' });
  for (let i = 0; i < 30; i++) expectRestError(await login(ipb, `user-${i}`, 'wrong-password', spoof()), 401, ErrorCode.UNAUTHORIZED);
  const blocked = await login(ipb, 'honest', a.password);
  expectRestError(blocked, 429, ErrorCode.RATE_LIMITED);
  assert.ok(Number(blocked.retryAfter) > 0);
  // A client that claims to be somewhere else is still the same client, over REST and MQTT/WS.
  expectRestError(await login(ipb, 'honest', a.password, spoof()), 429, ErrorCode.RATE_LIMITED);
  const ws = await connectRefused(ipb.broker.wsUrl, {
    clientId: 'agent:honest:ws-spoof',
    username: 'agent:honest',
    password: 'anything',
    wsOptions: { headers: spoof() },
  });
  assert.match(ws.message, /Not authorized/i);
  // The operator's admin token needs no login and still works.
  assert.is((await ipb.api('GET', '/api/agents')).status, 200);
});

perIp('behind a trusted proxy (--trust-proxy) the forwarded address is the one limited', async () => {
  ipb = await TestBroker.start({ trustProxy: true });
  const a = await ipb.createAgent('proxied', { password: 'proxied-password' });
  const mallory = { 'x-forwarded-for': '203.0.113.7' };
  for (let i = 0; i < 30; i++) expectRestError(await login(ipb, `user-${i}`, 'wrong-password', mallory), 401, ErrorCode.UNAUTHORIZED);
  expectRestError(await login(ipb, 'proxied', a.password, mallory), 429, ErrorCode.RATE_LIMITED);
  assert.is((await login(ipb, 'proxied', a.password, { 'x-forwarded-for': '198.51.100.20' })).status, 200, 'another client behind the proxy is not blocked');
});

sessions.run();
idle.run();
perIp.run();
