// REST scopes (broker/http/scopes.ts): every route the broker registers is enumerated, and every
// one that is not on the explicit public list below answers 401 without credentials; every route
// documented as admin-only answers 403 to an agent. A route added outside a scope is public, so
// it fails here until it is put in its scope or added to the list. A body that fails the schema is
// still a 400 without credentials (the scope's hook runs after validation, as the handlers' own
// calls did). The startup check that holds each route to its declared auth is exercised too.
import Fastify, { type FastifyInstance } from 'fastify';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { buildHttp } from '../../broker/http/app';
import { errorHandler } from '../../broker/http/errors';
import { registeredRoutes } from '../../broker/http/openapi';
import { routeSchema } from '../../broker/http/route-schema';
import { inScope, installScopes } from '../../broker/http/scopes';
import { TestBroker } from '../helpers/broker';
import { suite } from '../helpers/suite';

/** The REST routes anyone may call. Adding one here is a decision: it is then open to the internet. */
const PUBLIC = [
  'POST /api/login',
  'GET /healthz',
  'GET /metrics',
  'GET /api/blobs/:sha', // the signed URL is the permission (docs/architecture.md, "Blobs")
  'POST /api/orders/sessions', // a walk-up customer opens a session from a signed order label
  'GET /api/openapi.json',
  'GET /api/asyncapi.json',
];
/** The swagger-ui reference page and its assets (@fastify/swagger-ui, hidden from the document). */
const DOCS = '/api/docs';

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  minLength?: number;
  pattern?: string;
  minimum?: number;
  minItems?: number;
};

/** Strings that match the patterns the schemas use. */
const PATTERN_SAMPLES: Record<string, string> = { '^([01][0-9]|2[0-3]):[0-5][0-9]$': '00:00' };

/** The smallest value a body schema admits: required properties only. */
function minimal(s: Schema, where: string): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  const alt = s.oneOf ?? s.anyOf;
  if (alt) return minimal(alt[0]!, where);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const type = types.includes('string') ? 'string' : types[0];
  switch (type) {
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k) => [k, minimal(s.properties?.[k] ?? {}, `${where}.${k}`)]));
    case 'string':
      if (s.pattern !== undefined) {
        const sample = PATTERN_SAMPLES[s.pattern];
        if (sample === undefined) throw new Error(`${where}: add a sample for the pattern ${s.pattern}`);
        return sample;
      }
      return 'x'.repeat(Math.max(1, s.minLength ?? 1));
    case 'integer':
    case 'number':
      return Math.max(1, s.minimum ?? 1);
    case 'boolean':
      return true;
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => minimal(s.items ?? {}, `${where}[]`));
    case 'null':
      return null;
    default:
      return {};
  }
}

interface Probe {
  method: string;
  url: string;
  path: string;
  hidden: boolean;
  auth: 'none' | 'session' | 'admin' | 'customer';
  body?: unknown;
}

let tb: TestBroker;
let app: FastifyInstance;
let probes: Probe[];

const t = suite('REST scopes');
t.before(async () => {
  tb = await TestBroker.start();
  // The same app the broker serves, built again (not listening) to enumerate every route it registers.
  app = await buildHttp(tb.ctx, Date.now());
  await app.ready();
  const doc = app.swagger() as {
    paths: Record<string, Record<string, { description?: string; security?: unknown; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  };
  probes = registeredRoutes(app).map((r) => {
    const path = r.url.replace(/:(\w+)/g, 'x1').replace(/\*$/, 'x1');
    const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[(r.method === 'HEAD' ? 'GET' : r.method).toLowerCase()];
    // Who may call it, as the document tells clients (route-schema.ts words it).
    const auth =
      op?.security === undefined
        ? 'none'
        : op.description?.startsWith('Admins only')
          ? 'admin'
          : op.description?.startsWith('A walk-up customer')
            ? 'customer'
            : 'session';
    const schema = op?.requestBody?.content['application/json']?.schema;
    return {
      method: r.method,
      url: r.url,
      path,
      hidden: r.hidden,
      auth,
      ...(schema && r.method !== 'HEAD' ? { body: minimal(schema, `${r.method} ${r.url} body`) } : {}),
    };
  });
});
t.after(async () => {
  await app?.close();
  await tb?.stop();
});

const call = (p: Probe, token?: string, body = p.body) =>
  app.inject({
    method: p.method as 'GET',
    url: p.path,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });

const isPublic = (p: Probe): boolean =>
  PUBLIC.includes(`${p.method === 'HEAD' ? 'GET' : p.method} ${p.url}`) ||
  p.url === DOCS ||
  p.url.startsWith(`${DOCS}/`) ||
  !(p.url.startsWith('/api/') || p.url === '/healthz' || p.url === '/metrics');

t('the route list covers the API, and the public list names only routes that exist', () => {
  assert.ok(probes.length >= 100, `found ${probes.length} routes (HEAD included)`);
  const names = new Set(probes.map((p) => `${p.method} ${p.url}`));
  for (const p of PUBLIC) assert.ok(names.has(p), `${p} is registered`);
  // Outside the API only the web app's pages (the app shell and its files) are registered, hidden from the document.
  for (const p of probes.filter((x) => !(x.url.startsWith('/api/') || x.url === '/healthz' || x.url === '/metrics')))
    assert.ok(p.hidden, `${p.method} ${p.url} is a page of the web app`);
});

t('every route off the public list answers 401 without credentials, and documents that it needs them', async () => {
  const checked: string[] = [];
  for (const p of probes.filter((x) => !isPublic(x))) {
    const where = `${p.method} ${p.url}`;
    assert.is.not(p.auth, 'none', `${where} is off the public list, so its document must say who may call it`);
    const r = await call(p);
    assert.is(r.statusCode, 401, `${where} without credentials: ${r.body}`);
    if (p.method !== 'HEAD') assert.is(r.json().error.code, ErrorCode.UNAUTHORIZED, where);
    const bogus = await call(p, 'not-a-token-of-anyone');
    assert.ok(bogus.statusCode === 401, `${where} with an unknown token: ${bogus.statusCode} ${bogus.body}`);
    checked.push(where);
  }
  assert.ok(checked.length >= 90, `${checked.length} routes checked`);
});

t('every route on the public list is documented as public', () => {
  for (const p of probes.filter((x) => PUBLIC.includes(`${x.method} ${x.url}`))) assert.is(p.auth, 'none', `${p.method} ${p.url}`);
});

t('every admin-only route answers 403 to an agent; session routes let the agent through the scope', async () => {
  const a = await tb.createAgent('scoped');
  const token = await tb.login('scoped', a.password);
  const admin = probes.filter((p) => p.auth === 'admin');
  assert.ok(admin.length >= 60, `${admin.length} admin routes`);
  for (const p of admin) {
    const r = await call(p, token);
    assert.is(r.statusCode, 403, `${p.method} ${p.url} as an agent: ${r.body}`);
    if (p.method !== 'HEAD') assert.is(r.json().error.code, ErrorCode.FORBIDDEN, `${p.method} ${p.url}`);
  }
  // Read-only session routes answer the agent past the scope's hook (a 404 for the made-up ids is
  // the handler's answer, not the hook's); nothing is changed by a GET.
  for (const p of probes.filter((x) => x.auth === 'session' && x.method === 'GET')) {
    const r = await call(p, token);
    assert.ok(r.statusCode !== 401 && r.statusCode !== 403, `${p.method} ${p.url} as an agent: ${r.statusCode} ${r.body}`);
  }
});

t('a body that fails the schema is a 400 without credentials too (the hook runs after validation)', async () => {
  const withBody = probes.filter((p) => p.body !== undefined && p.auth !== 'none');
  assert.ok(withBody.length >= 20, `${withBody.length} routes with a JSON body`);
  for (const p of withBody) {
    const r = await call(p, undefined, ['not', 'an', 'object']);
    assert.is(r.statusCode, 400, `${p.method} ${p.url}: ${r.body}`);
    assert.is(r.json().error.code, ErrorCode.BAD_REQUEST, `${p.method} ${p.url}`);
  }
});

t('a route must sit in the scope its routeSchema declares, and only a scope sets request.principal', async () => {
  const bare = (): FastifyInstance => {
    const f = Fastify() as unknown as FastifyInstance;
    f.setErrorHandler(errorHandler(tb.ctx.log));
    f.setSerializerCompiler(() => (data) => JSON.stringify(data));
    installScopes(f);
    return f;
  };
  const doc = (auth: 'none' | 'session' | 'admin' | 'customer') => ({
    schema: routeSchema({ summary: 's', tag: 't', auth, response: { 200: { type: 'object' } } }),
  });
  const outside = bare();
  assert.throws(() => outside.get('/api/forgot', doc('admin'), async () => ({})), /declares auth 'admin' but is registered in the 'none' scope/);
  assert.throws(() => outside.get('/api/undocumented', async () => ({})), /has no routeSchema/);
  await outside.close();

  const f = bare();
  let ran = 0;
  await inScope(f, tb.ctx, 'admin', (admin) => {
    assert.throws(() => admin.get('/api/open', doc('none'), async () => ({})), /declares auth 'none' but is registered in the 'admin' scope/);
    admin.get('/api/secret', doc('admin'), async (req) => {
      ran++;
      return { who: req.principal.id };
    });
  });
  f.get('/api/public', doc('none'), async (req) => ({ who: req.principal.id }));
  await f.ready();
  assert.is((await f.inject({ url: '/api/secret' })).statusCode, 401);
  assert.is(ran, 0, 'the handler never ran without a principal');
  const ok = await f.inject({ url: '/api/secret', headers: { authorization: `Bearer ${tb.adminToken}` } });
  assert.equal([ok.statusCode, ok.json()], [200, { who: 'token' }]);
  // A public route that reads the principal fails loudly instead of running as nobody.
  assert.is((await f.inject({ url: '/api/public', headers: { authorization: `Bearer ${tb.adminToken}` } })).statusCode, 500);
  await f.close();
});

t.run();
