// The API descriptions: the OpenAPI 3.1 document validates, lists every registered REST route with
// its request and response schemas, a generated client (openapi-typescript types + openapi-fetch)
// works against the live broker, schema failures keep the API's error shape naming the field, the
// reference page works offline, and the AsyncAPI 3 document of the topic tree validates.
import SwaggerParser from '@apidevtools/swagger-parser';
import { Parser } from '@asyncapi/parser';
import createClient from 'openapi-fetch';
import openapiTS from 'openapi-typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { AGENT_OPS } from '../../protocol/messages';
import { DEVICE_LEAVES, PREFIX, adminAlertsTopic, adminTransferTopic } from '../../protocol/topics';
import { buildHttp } from '../../broker/http/app';
import { registeredRoutes } from '../../broker/http/openapi';
import type { paths } from '../generated/openapi-types';
import { TestBroker } from '../helpers/broker';
import { expectRestError } from '../helpers/errors';

let tb: TestBroker;

const t = suite('API descriptions');
t.before(async () => {
  tb = await TestBroker.start();
});
t.after(async () => {
  await tb.stop();
});

const doc = async (): Promise<any> => (await tb.api('GET', '/api/openapi.json', undefined, undefined)).body;
const openApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}');

t('the OpenAPI document is 3.1 and validates', async () => {
  const d = await doc();
  assert.is(d.openapi, '3.1.0');
  await SwaggerParser.validate(structuredClone(d));
});

t('every registered REST route appears with its request and response schemas', async () => {
  // The same app the broker serves, built again (not listening) to read every route it registers.
  const app = await buildHttp(tb.ctx, Date.now());
  await app.ready();
  const routes = registeredRoutes(app).filter((r) => !r.hidden && r.method !== 'HEAD');
  await app.close();
  const api = routes.filter((r) => r.url.startsWith('/api/') || r.url === '/healthz' || r.url === '/metrics');
  assert.equal(
    routes.filter((r) => !api.includes(r)),
    [],
    'every visible route is part of the REST API',
  );
  assert.ok(api.length >= 40, `found ${api.length} routes`);
  const d = await doc();
  for (const r of api) {
    const op = d.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
    assert.ok(op, `${r.method} ${r.url} is in the document`);
    const ok = Object.entries(op.responses).find(([status]) => /^2\d\d$/.test(status)) as [string, any] | undefined;
    assert.ok(ok, `${r.method} ${r.url} documents its success response`);
    if (ok![0] !== '204')
      assert.ok(ok![1].content?.['application/json']?.schema ?? ok![1].content?.['application/json'], `${r.method} ${r.url}: response schema`);
    assert.ok(op.responses['4XX'], `${r.method} ${r.url}: error response`);
    for (const p of r.url.matchAll(/:(\w+)/g))
      assert.ok(
        op.parameters?.some((x: any) => x.in === 'path' && x.name === p[1]),
        `${r.method} ${r.url}: path parameter ${p[1]}`,
      );
    if (r.method === 'PATCH' || (r.method === 'POST' && op.requestBody === undefined)) {
      const bodyless = [
        '/api/logout',
        '/api/devices/:id/kick',
        '/api/agents/:id/unlock',
        '/api/jobs/:id/complete',
        '/api/jobs/:id/cancel',
        '/api/webhooks/:id/deliveries/:seq/redeliver',
        '/api/orders/:session/orders/:order/cancel',
        '/api/machine-orders/:order/cancel',
        '/api/alerts/:id/ack',
      ];
      // /api/releases takes multipart/form-data (manifest, sig, image), named in its summary and checked by its handler.
      bodyless.push('/api/releases');
      assert.ok(op.requestBody || bodyless.includes(r.url), `${r.method} ${r.url}: request body schema`);
    }
    const body = op.requestBody?.content['application/json'] ?? op.requestBody?.content['multipart/form-data'];
    if (op.requestBody) assert.ok(body?.schema.type === 'object', `${r.method} ${r.url}: body is an object schema`);
  }
  // A design upload is multipart/form-data with one binary part, `file`, described though never
  // validated by fastify (the handler reads it).
  const upload = d.paths['/api/orders/{session}/designs'].post.requestBody.content;
  assert.equal(Object.keys(upload), ['multipart/form-data']);
  assert.equal(upload['multipart/form-data'].schema.required, ['file']);
  assert.is(upload['multipart/form-data'].schema.properties.file.format, 'binary');
});

t('a generated client (openapi-typescript types, openapi-fetch) works against the live broker', async () => {
  const generated = await openapiTS((await doc()) as Parameters<typeof openapiTS>[0]);
  for (const p of ['"/api/agents"', '"/api/agents/{id}"', '"/api/me"']) assert.ok(generated.includes(p), `the generated types have ${p}`);
  const client = createClient<paths>({ baseUrl: tb.broker.httpUrl, headers: { authorization: `Bearer ${tb.adminToken}` } });
  const created = await client.POST('/api/agents', { body: { id: 263, name: 'test vk', password: 'password-263' } });
  assert.is(created.response.status, 201, JSON.stringify(created.error));
  assert.is(created.data?.id, '263');
  const got = await client.GET('/api/agents/{id}', { params: { path: { id: '263' } } });
  assert.equal(got.data?.devices, []);
  assert.is(got.data?.name, 'test vk');
  const refused = await client.POST('/api/agents', { body: { id: 264, name: 'x', password: 'short' } });
  assert.is(refused.response.status, 400);
  assert.is(refused.error?.error.field, 'password');
});

t('requests that fail the schema get the API error shape, naming the field', async () => {
  expectRestError(await tb.api('POST', '/api/agents', { id: 'a1', name: 'A', password: 12345678 }), 400, ErrorCode.BAD_REQUEST, 'password');
  expectRestError(await tb.api('POST', '/api/agents', { name: 'A', password: 'password-1' }), 400, ErrorCode.BAD_REQUEST, 'id');
  expectRestError(await tb.api('PATCH', '/api/agents/a1', { disabled: 'true' }), 400, ErrorCode.BAD_REQUEST, 'disabled');
  expectRestError(await tb.api('POST', '/api/enrollment-tokens', { uses: 1.5, expiresIn: '1d' }), 400, ErrorCode.BAD_REQUEST, 'uses');
  expectRestError(await tb.api('POST', '/api/webhooks', { url: 'https://example.com', events: 'job.state' }), 400, ErrorCode.BAD_REQUEST, 'events');
  expectRestError(await tb.api('POST', '/api/login', { id: {}, password: 'x' }, undefined), 400, ErrorCode.BAD_ID, 'id');
  assert.is((await tb.api('GET', '/api/agents/a1')).status, 404, 'nothing was created');
});

t('the reference page at /api/docs is served by the broker itself (no CDN)', async () => {
  const page = await fetch(`${tb.broker.httpUrl}/api/docs/`);
  assert.is(page.status, 200);
  const html = await page.text();
  assert.match(html, /Swagger UI/);
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(
    assets.some((a) => a.endsWith('swagger-ui-bundle.js')),
    'the page loads the swagger-ui bundle',
  );
  for (const a of assets) {
    assert.not.match(a, /^(https?:)?\/\//, `asset ${a} is local`);
    const r = await fetch(new URL(a, `${tb.broker.httpUrl}/api/docs/`));
    assert.is(r.status, 200, `asset ${a} is served`);
  }
  const spec = await fetch(`${tb.broker.httpUrl}/api/docs/json`);
  assert.is(((await spec.json()) as { openapi: string }).openapi, '3.1.0', 'the page reads the same document');
});

t('the AsyncAPI 3 document of the topic tree is generated from protocol/ and validates', async () => {
  const r = await tb.api('GET', '/api/asyncapi.json', undefined, undefined);
  assert.is(r.status, 200);
  assert.is(r.body.asyncapi, '3.0.0');
  for (const leaf of DEVICE_LEAVES) assert.ok(r.body.channels[`device-${leaf}`], `channel for d/<dev>/${leaf}`);
  const addresses = Object.values(r.body.channels).map((c: any) => c.address);
  for (const topic of [adminAlertsTopic, adminTransferTopic, `${PREFIX}/o/{order}`]) assert.ok(addresses.includes(topic), `channel for ${topic}`);
  assert.equal(r.body.channels['agent-req'].messages['agent-req'].payload.properties.op.enum, [...AGENT_OPS]);
  const { diagnostics, document } = await new Parser().parse(r.body);
  const errors = diagnostics.filter((x) => x.severity === 0);
  assert.equal(
    errors.map((e) => `${e.path.join('.')}: ${e.message}`),
    [],
    'no validation errors',
  );
  assert.ok(document, 'the parser accepted the document');
  assert.is(document!.channels().length, Object.keys(r.body.channels).length);
});

t.run();
