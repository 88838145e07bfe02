// The web app's hook for an operator's portal (docs/architecture.md, "Agent identity from the
// operator's identity provider"), in real Chromium against a broker that trusts an HS256 identity
// provider: window.fleetbind.setToken signs agent 263 in, 'fleetbind:token-expiring' asks for a
// new token before exp and setToken swaps it in, so the live connection moves to the new token
// before the broker would close it; a portal that never renews is signed out at expiry.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import { metric } from '../helpers/metrics';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { launch, openApp, waitAttr, waitText } from './browser';
import { ensureWebBuilt } from './web-build';

const ISSUER = 'https://portal.test.example';
const AUDIENCE = 'fleetbind-web-test';
const SECRET = randomBytes(32).toString('hex');
const TOKEN_S = 8;

const test = suite('web: token hook');
let tb: TestBroker | null = null;
let browser: Browser | null = null;

test.before(async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start({
    jwt: { issuer: ISSUER, audience: AUDIENCE, secret: SECRET, agentClaim: 'sub', nameClaim: 'name', autoProvision: true, jwksCooldownMs: 30_000 },
  });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await tb?.stop();
});

function token(sub: string, seconds: number): Promise<string> {
  return new SignJWT({ sub, name: `agent ${sub}` })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(SECRET));
}

const expOf = (jwt: string): number => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).exp * 1000;
const storedToken = (page: Page): Promise<string | undefined> =>
  page.evaluate('JSON.parse(localStorage.getItem("fleetbind.session"))?.token') as Promise<string | undefined>;
const setToken = (page: Page, jwt: string): Promise<unknown> => page.evaluate(`window.fleetbind.setToken(${JSON.stringify(jwt)})`);
const liveExpiries = async (): Promise<number> =>
  metric(await (await fetch(`${tb!.broker.httpUrl}/metrics`)).text(), 'fleetbind_token_refusals_total', { via: 'mqtt-live', reason: 'expired' });

test('setToken signs the agent in; answering token-expiring with a new token keeps it signed in and live past the first exp', async () => {
  const base = tb!.broker.httpUrl;
  const { page, errors } = await openApp(browser!, `${base}/login`);
  await page.exposeFunction('renewToken', () => token('263', 600));
  // Page code as text: the tests compile without the DOM's types.
  await page.evaluate(`window.warned = [];
    addEventListener('fleetbind:token-expiring', (e) => {
      window.warned.push(e.detail.expiresAt);
      window.renewToken().then((jwt) => window.fleetbind.setToken(jwt));
    });`);
  const first = await token('263', TOKEN_S);
  const expiriesBefore = await liveExpiries();
  await setToken(page, first);
  await page.waitForURL(`${base}/devices`);
  await page.waitForFunction(`JSON.parse(localStorage.getItem('fleetbind.session') ?? 'null')?.token !== ${JSON.stringify(first)}`, undefined, {
    timeout: 10_000,
  });
  assert.equal(await page.evaluate('window.warned'), [expOf(first)], 'warned once, with the expiry, before it came');
  const renewed = (await storedToken(page))!;
  assert.is(expOf(renewed) - expOf(first) >= 500_000, true, 'the renewed token is the one in use');
  assert.equal((await tb!.api('GET', '/api/me', undefined, renewed)).body.id, '263');
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'online', 10_000);

  await new Promise((r) => setTimeout(r, expOf(first) - Date.now() + 1_500));
  assert.is(new URL(page.url()).pathname, '/devices', 'still signed in after the first token expired');
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'online');
  assert.is(await liveExpiries(), expiriesBefore, 'no live connection was closed for an expired token: it had moved to the new one');
  assert.equal(errors, []);
  await page.context().close();
});

test('a portal that never renews sees its agent signed out at expiry', async () => {
  const base = tb!.broker.httpUrl;
  const { page } = await openApp(browser!, `${base}/login`);
  const jwt = await token('264', TOKEN_S);
  await setToken(page, jwt);
  await page.waitForURL(`${base}/devices`);
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'online', 10_000);
  await page.waitForURL(`${base}/login`, { timeout: TOKEN_S * 1000 + 10_000 });
  assert.ok(Date.now() >= expOf(jwt), 'not before its exp');
  await waitText(page.getByTestId('signin-notice'), 'Your session has expired. Please sign in again.');
  assert.is(await storedToken(page), undefined);
  await page.context().close();
});

test.run();
