// How the broker serves the built app: the shell for app paths (label URLs included), the PWA
// manifest and icons, long-lived caching only for hashed assets, and the API untouched.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import { ensureWebBuilt } from './web-build';

const test = suite('web: served by the broker');
let tb: TestBroker | null = null;

test.before(async () => {
  await ensureWebBuilt();
  tb = await TestBroker.start();
});
test.after(async () => {
  await tb?.stop();
});

const get = (path: string) => fetch(tb!.broker.httpUrl + path);

test('app paths and label URLs answer with the app shell, uncached', async () => {
  for (const path of ['/', '/login', '/c/CT0700026.0123456789abcdef', '/claim/CT0700026', '/devices/esp32-a4cf12b4c9e0/jobs/x', '/admin/agents']) {
    const r = await get(path);
    assert.is(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', /text\/html/, path);
    assert.is(r.headers.get('cache-control'), 'no-cache', path);
    assert.match(await r.text(), /<div id="app"><\/div>/, path);
  }
});

test('hashed assets are cached for a year; the manifest names icons that exist', async () => {
  const html = await (await get('/')).text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'the shell loads a hashed script');
  const js = await get(script);
  assert.is(js.status, 200);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  const manifest = (await (await get('/manifest.webmanifest')).json()) as {
    start_url: string;
    display: string;
    icons: { src: string; sizes: string; type: string }[];
  };
  assert.is(manifest.display, 'standalone');
  assert.ok(
    manifest.icons.some((i) => i.sizes === '512x512'),
    'a 512 px icon for installation',
  );
  for (const icon of manifest.icons) {
    const r = await get(icon.src);
    assert.is(r.status, 200, icon.src);
    assert.is(r.headers.get('content-type'), icon.type, icon.src);
  }
});

test('the API and its errors are unchanged next to the app', async () => {
  const r = await get('/api/nothing-here');
  assert.is(r.status, 404);
  assert.equal(await r.json(), { error: { code: 'NOT_FOUND', message: 'no route GET /api/nothing-here' } });
  const preview = await get('/api/claim-preview?target=CT0700026');
  assert.is(preview.status, 401, 'the claim preview needs a session');
});

test.run();
