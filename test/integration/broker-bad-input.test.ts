// Bad input: each gets a specific error or a refused publish, changes nothing
// in the registry (devices, agents, tokens, audit, all read back over REST), and the broker keeps
// serving: a fresh agent can still claim a fresh device afterwards.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { request as httpRequest } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import {
  PAYLOAD_LIMIT_DEFAULT,
  PAYLOAD_LIMIT_EVT,
  adminTopic,
  agentTopic,
  deviceTopic,
  enrollReplyTopic,
  enrollTopic,
  eventTopic,
} from '../../protocol/topics';
import { TestBroker, randomMac, request } from '../helpers/broker';
import { expectResponseError } from '../helpers/errors';
import { metric } from '../helpers/metrics';
import { type Received, connect, connectRefused, end, publish, recorder, subscribe, waitClosed, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

let tb: TestBroker;
const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);
let n = 0;
const fresh = (prefix: string): string => `${prefix}-${++n}-${randomBytes(2).toString('hex')}`;

/** Everything a bad input could have touched, as an admin reads it over REST. */
async function snapshot(): Promise<unknown> {
  const get = async (path: string): Promise<any> => {
    const r = await tb.api('GET', path);
    assert.is(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const devices = (await get('/api/devices')) as Record<string, unknown>[];
  return {
    // Presence and last-seen move when an offending client is disconnected; the registry must not.
    devices: devices.map(({ presence: _p, lastSeen: _l, ...rest }) => rest),
    agents: await get('/api/agents'),
    tokens: await get('/api/enrollment-tokens'),
    audit: await get('/api/audit?limit=1000'),
  };
}

async function unchanged(what: string, act: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await act();
  assert.equal(await snapshot(), before, `${what} changed the registry`);
}

async function metrics(): Promise<string> {
  const r = await tb.api('GET', '/metrics', undefined, undefined);
  assert.is(r.status, 200);
  return r.body as string;
}

const denials = async (rule: string): Promise<number> => metric(await metrics(), 'fleetbind_acl_denials_total', { rule });

/** A brand-new agent claims a brand-new device: the broker is still serving. */
async function stillServes(): Promise<void> {
  const d = await tb.provision();
  const a = track((await tb.agent(fresh('after'))).client);
  const id = (a.options.username ?? '').slice('agent:'.length);
  const r = await request(a, { kind: 'agent', id }, { op: 'claim', target: d.id });
  assert.ok(r.ok, `claim after bad input: ${JSON.stringify(r)}`);
  assert.is(r.result.device.id, d.id);
}

/** A connected agent with a device bound to it, subscribed to that device's status and events. */
async function boundPair(): Promise<{ agent: MqttClient; agentId: string; d: Dev; device: MqttClient; log: Received[] }> {
  const d = await tb.provision();
  const device = track((await tb.device(d)).client);
  const a = await tb.agent(fresh('agent'));
  track(a.client);
  assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
  const log = recorder(a.client);
  await subscribe(a.client, [deviceTopic(d.id, 'status'), `fb/v1/d/${d.id}/evt/+`]);
  return { agent: a.client, agentId: a.id, d, device, log };
}

/** Publishes raw text on the agent's req topic and waits for the response with the given id. */
async function rawRequest(client: MqttClient, agent: string, payload: string | Buffer, id: unknown): Promise<any> {
  const res = waitFor(client, (t, json) => t === agentTopic(agent, 'res') && json?.id === id, 5000, 'the response');
  await publish(client, agentTopic(agent, 'req'), payload);
  return (await res).json;
}

/** The publish is refused: the broker closes the connection and counts the rule. */
async function refusedPublish(client: MqttClient, rule: string, topic: string, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
  const before = await denials(rule);
  await publish(client, topic, payload, opts);
  await waitClosed(client);
  assert.is(await denials(rule), before + 1, `${rule} denial counted`);
}

const bad = suite('bad input');
bad.before(async () => {
  tb = await TestBroker.start();
});
bad.after.each(async () => {
  await end(...clients.splice(0));
});
bad.after(async () => {
  await tb.stop();
});

bad('malformed JSON on the req topic gets BAD_REQUEST', async () => {
  const a = await tb.agent(fresh('json'));
  track(a.client);
  await unchanged('malformed JSON', async () => {
    for (const text of ['{"op":"claim",', 'not json', '', '\u0000\u00ff']) {
      const res = await rawRequest(a.client, a.id, text, null);
      expectResponseError(res, ErrorCode.BAD_REQUEST);
      assert.match(res.error.message, /JSON/);
    }
  });
  assert.ok(a.client.connected, 'a bad request is answered, not punished');
  await stillServes();
});

bad('wrong types get BAD_ID or BAD_REQUEST naming the field', async () => {
  const { agent, agentId, d } = await boundPair();
  const cases: [Record<string, unknown> | unknown[] | string, string, string][] = [
    [{ id: 'w1', op: 42 }, ErrorCode.BAD_REQUEST, 'op'],
    [{ id: 'w2', op: 'release', device: { id: d.id } }, ErrorCode.BAD_ID, 'device'],
    [{ id: 'w3', op: 'release', device: 'Not An Id!' }, ErrorCode.BAD_ID, 'device'],
    [{ id: 'w4', op: 'release', device: -1 }, ErrorCode.BAD_ID, 'device'],
    [{ id: 'w5', op: 'claim', target: { device: d.id } }, ErrorCode.BAD_REQUEST, 'target'],
    [{ id: 'w6', op: 'claim', target: 1.5 }, ErrorCode.BAD_REQUEST, 'target'],
    [{ id: 'w7', op: 'claim', code: 123456 }, ErrorCode.BAD_REQUEST, 'code'],
    [{ id: 'w8', op: 'claim' }, ErrorCode.BAD_REQUEST, 'target'],
  ];
  await unchanged('wrong types', async () => {
    for (const [body, code, field] of cases)
      expectResponseError(await rawRequest(agent, agentId, JSON.stringify(body), (body as { id: string }).id), code, field);
    expectResponseError(await rawRequest(agent, agentId, '[1,2,3]', null), ErrorCode.BAD_REQUEST, 'request');
    expectResponseError(await rawRequest(agent, agentId, '"claim"', null), ErrorCode.BAD_REQUEST, 'request');
  });
  assert.is((await tb.api('GET', `/api/devices/${d.id}`)).body.agent, agentId, 'the binding is untouched');
  await stillServes();
});

bad('admin requests with missing or wrong fields are refused with the field', async () => {
  const { d } = await boundPair();
  const other = await tb.createAgent(fresh('other'));
  const admin = track(await connect(tb.broker.mqttUrl, { clientId: `admin:ops:${fresh('admin')}`, username: 'admin:ops', password: tb.adminToken }));
  await subscribe(admin, adminTopic('ops', 'res'));
  await unchanged('bad admin requests', async () => {
    expectResponseError(await request(admin, { kind: 'admin', id: 'ops' }, { op: 'transfer', device: d.id, agent: other.id }), ErrorCode.BAD_REQUEST, 'reason');
    expectResponseError(
      await request(admin, { kind: 'admin', id: 'ops' }, { op: 'transfer', device: d.id, agent: ['x'], reason: 'r' }),
      ErrorCode.BAD_ID,
      'agent',
    );
    expectResponseError(
      await request(admin, { kind: 'admin', id: 'ops' }, { op: 'release', device: d.id, reason: 'r', force: 'yes' }),
      ErrorCode.BAD_REQUEST,
      'force',
    );
    expectResponseError(await request(admin, { kind: 'admin', id: 'ops' }, { op: 'claim', target: d.id }), ErrorCode.UNKNOWN_OP, 'op');
  });
  await stillServes();
});

bad('an unknown op gets UNKNOWN_OP', async () => {
  const a = await tb.agent(fresh('op'));
  track(a.client);
  await unchanged('unknown ops', async () => {
    expectResponseError(await request(a.client, { kind: 'agent', id: a.id }, { op: 'format-disk' }), ErrorCode.UNKNOWN_OP, 'op');
    expectResponseError(
      await request(a.client, { kind: 'agent', id: a.id }, { op: 'transfer', device: 'esp32-000000000000', agent: a.id, reason: 'mine' }),
      ErrorCode.UNKNOWN_OP,
      'op',
    );
  });
  await stillServes();
});

bad('a forged or unknown label signature gets UNKNOWN_MACHINE', async () => {
  const code = `CT${randomBytes(3).toString('hex').toUpperCase()}`;
  const d = await tb.provision(randomMac(), code);
  const label = await tb.api('GET', `/api/labels/${code}`);
  assert.is(label.status, 200);
  const realSig: string = label.body.sig;
  const forged = (realSig[0] === '0' ? '1' : '0') + realSig.slice(1);
  const a = await tb.agent(fresh('label'));
  track(a.client);
  await unchanged('forged labels', async () => {
    for (const target of [`${code}.${forged}`, `https://fleet.example/c/${code}.${forged}`, `NOSUCH1.${realSig}`, `https://fleet.example/c/${code}.zz`]) {
      expectResponseError(await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target }), ErrorCode.UNKNOWN_MACHINE, 'target');
    }
  });
  assert.is((await tb.api('GET', `/api/devices/${d.id}`)).body.agent, null);
  const real = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: label.body.url });
  assert.ok(real.ok, `the genuine label still claims: ${JSON.stringify(real)}`);
  await stillServes();
});

bad('a request over 4 KiB is answered TOO_LARGE with its id and counted, and the connection stays; exactly 4 KiB is served', async () => {
  const a = await tb.agent(fresh('big'));
  track(a.client);
  const pad = (size: number, id: string): string => {
    const base = JSON.stringify({ id, op: 'list', pad: '' });
    return JSON.stringify({ id, op: 'list', pad: 'x'.repeat(size - base.length) });
  };
  const atLimit = pad(PAYLOAD_LIMIT_DEFAULT, 'at-limit');
  assert.is(Buffer.byteLength(atLimit), PAYLOAD_LIMIT_DEFAULT);
  assert.ok((await rawRequest(a.client, a.id, atLimit, 'at-limit')).ok);
  await unchanged('an oversize request', async () => {
    const before = await denials('publish:payload-size');
    const r = await rawRequest(a.client, a.id, pad(PAYLOAD_LIMIT_DEFAULT + 1, 'over'), 'over');
    assert.is(r.error?.code, 'TOO_LARGE', JSON.stringify(r));
    assert.is(await denials('publish:payload-size'), before + 1, 'publish:payload-size denial counted');
  });
  assert.ok((await rawRequest(a.client, a.id, atLimit, 'at-limit')).ok, 'the same connection is still served');
  await stillServes();
});

bad('an event over 16 KiB closes the device connection and never reaches the agent; exactly 16 KiB does', async () => {
  const { d, device, log } = await boundPair();
  await publish(device, eventTopic(d.id, 'data'), Buffer.alloc(PAYLOAD_LIMIT_EVT, 0x61));
  await waitUntil(() => log.some((m) => m.topic === eventTopic(d.id, 'data')), 5000, 'the 16 KiB event');
  await unchanged('an oversize event', () =>
    refusedPublish(device, 'publish:payload-size', eventTopic(d.id, 'big'), Buffer.alloc(PAYLOAD_LIMIT_EVT + 1, 0x62)),
  );
  assert.not.ok(
    log.some((m) => m.topic === eventTopic(d.id, 'big')),
    'the oversize event was delivered',
  );
  await stillServes();
});

bad('retained publishes are refused everywhere but status', async () => {
  const a = await tb.agent(fresh('retain'));
  track(a.client);
  await unchanged('a retained request', () =>
    refusedPublish(a.client, 'publish:retain', agentTopic(a.id, 'req'), JSON.stringify({ id: 'r', op: 'list' }), { retain: true }),
  );
  const { d, device, log } = await boundPair();
  await unchanged('a retained event', () => refusedPublish(device, 'publish:retain', eventTopic(d.id, 'sticky'), 'stays?', { retain: true }));
  assert.not.ok(log.some((m) => m.topic === eventTopic(d.id, 'sticky')));
  // A new subscriber gets what is retained under the device: the broker's status, and no event.
  const admin = track(await connect(tb.broker.mqttUrl, { clientId: `admin:ops:${fresh('admin')}`, username: 'admin:ops', password: tb.adminToken }));
  const seen = recorder(admin);
  await subscribe(admin, `fb/v1/d/${d.id}/#`);
  await waitUntil(() => seen.some((m) => m.topic === deviceTopic(d.id, 'status') && m.retain), 5000, 'the retained status');
  assert.equal(
    seen.filter((m) => m.retain && m.topic.includes('/evt/')),
    [],
  );
  await stillServes();
});

bad("a device cannot publish on another device's topics", async () => {
  const victim = await boundPair();
  const presenceBefore = (await tb.api('GET', `/api/devices/${victim.d.id}`)).body.presence;
  for (const leaf of ['status', 'hello', 'ack', 'evt'] as const) {
    const x = await tb.provision();
    const intruder = track((await tb.device(x)).client);
    const topic = leaf === 'evt' ? eventTopic(victim.d.id, 'data') : deviceTopic(victim.d.id, leaf);
    const payload = leaf === 'status' ? JSON.stringify({ state: 'offline', conn: 0, since: 0 }) : JSON.stringify({ forged: true });
    await unchanged(`publishing ${leaf} as another device`, () =>
      refusedPublish(intruder, 'publish:device-scope', topic, payload, { retain: leaf === 'status' }),
    );
  }
  // The victim's own event arrives; nothing the intruders sent does.
  await publish(victim.device, eventTopic(victim.d.id, 'data'), JSON.stringify({ genuine: true }));
  await waitUntil(() => victim.log.some((m) => (m.json as { genuine?: boolean } | undefined)?.genuine === true), 5000, 'the genuine event');
  assert.not.ok(
    victim.log.some((m) => (m.json as { forged?: boolean } | undefined)?.forged === true || (m.json as { state?: string } | undefined)?.state === 'offline'),
    JSON.stringify(victim.log),
  );
  assert.equal((await tb.api('GET', `/api/devices/${victim.d.id}`)).body.presence, presenceBefore);
  await stillServes();
});

bad('a device cannot publish on its own cmd, config or jobs', async () => {
  const { d, log } = await boundPair();
  for (const leaf of ['cmd', 'config', 'jobs'] as const) {
    const device = track((await tb.device(d)).client);
    await unchanged(`a device publishing ${leaf}`, () =>
      refusedPublish(
        device,
        'publish:device-leaf',
        deviceTopic(d.id, leaf),
        JSON.stringify({ job: 'j1', kind: 'identify', params: {}, attempt: 1, deadline: 0 }),
      ),
    );
  }
  assert.not.ok(log.some((m) => m.topic.endsWith('/jobs')));
  await stillServes();
});

bad('a malformed hello is ignored and changes nothing', async () => {
  const d = await tb.provision();
  const { client } = await tb.device(d);
  track(client);
  const before = (await tb.api('GET', `/api/devices/${d.id}`)).body;
  await unchanged('a malformed hello', async () => {
    await publish(client, deviceTopic(d.id, 'hello'), JSON.stringify({ fw: 7, model: 'evil', mac: d.mac, caps: 'all', boot: -1, uptime: 0 }));
    await publish(client, deviceTopic(d.id, 'hello'), '{"fw":');
    // Still connected and still served: a good hello gets its config back.
    const config = waitFor(client, (t) => t === deviceTopic(d.id, 'config'), 5000, 'config');
    await publish(client, deviceTopic(d.id, 'hello'), { fw: before.fw, model: before.model, mac: d.mac, caps: before.caps, boot: 2, uptime: 1 });
    await config;
  });
  await stillServes();
});

bad('REST: bodies that are not JSON, have wrong types or are too large', async () => {
  const post = (path: string, body: string, type = 'application/json') =>
    fetch(tb.broker.httpUrl + path, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${tb.adminToken}` }, body }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }));
  await unchanged('bad REST bodies', async () => {
    let r = await post('/api/agents', '{"id":"x",');
    assert.is(r.status, 400);
    assert.is(r.body.error.code, ErrorCode.BAD_REQUEST);
    assert.match(r.body.error.message, /JSON/);
    r = await post('/api/agents', 'null');
    assert.is(r.status, 400);
    assert.is(r.body.error.code, ErrorCode.BAD_REQUEST);
    r = await post('/api/agents', JSON.stringify({ id: { a: 1 }, name: 'n', password: 'password1' }));
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_ID, 'id']);
    r = await post('/api/agents', JSON.stringify({ id: 'typed', name: 5, password: 'password1' }));
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_REQUEST, 'name']);
    r = await post('/api/agents', JSON.stringify({ id: 'typed', name: 'n', password: 'short' }));
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_REQUEST, 'password']);
    r = await post('/api/devices', JSON.stringify({ mac: 12 }));
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_ID, 'mac']);
    r = await post('/api/enrollment-tokens', JSON.stringify({ uses: '5', expiresIn: '1h' }));
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_REQUEST, 'uses']);
    r = await post('/api/enrollment-tokens', JSON.stringify({ uses: 5, expiresIn: 'soon' }));
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_REQUEST, 'expiresIn']);
    // Every duration is bounded; a body with a prototype key says so; code, status and message agree.
    for (const expiresIn of ['999999999999d', '367d', 10 ** 12]) {
      r = await post('/api/enrollment-tokens', JSON.stringify({ uses: 5, expiresIn }));
      assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_REQUEST, 'expiresIn'], JSON.stringify(r.body));
      assert.match(r.body.error.message, /at most/);
    }
    r = await post('/api/agents', '{"__proto__":{"admin":true},"id":"proto","name":"n","password":"password1"}');
    assert.equal([r.status, r.body.error.code, r.body.error.field], [400, ErrorCode.BAD_REQUEST, '__proto__'], JSON.stringify(r.body));
    assert.match(r.body.error.message, /must not contain the key "__proto__"/);
    r = await post('/api/agents', '{"id":"proto","name":"n","password":"password1","x":{"constructor":{"prototype":{}}}}');
    assert.equal([r.status, r.body.error.field], [400, 'x.constructor.prototype'], JSON.stringify(r.body));
    r = await post('/api/agents', JSON.stringify({ id: 'huge', name: 'n', password: 'password1', pad: 'x'.repeat(70 * 1024) }));
    assert.equal([r.status, r.body.error.code], [413, ErrorCode.TOO_LARGE]);
    r = await post('/api/agents', 'id=x', 'text/plain');
    assert.ok(r.status >= 400 && r.status < 500, String(r.status));
    assert.type(r.body.error.code, 'string');
  });
  await stillServes();
});

bad('a path with "." or ".." segments is refused with 400 BAD_REQUEST that says so', async () => {
  const u = new URL(tb.broker.httpUrl);
  for (const path of ['/api/devices/./esp32-a4cf12b4c9e0', '/api/devices/../agents', '/./api/agents', '/assets/%2e%2e/%2e%2e/etc/passwd']) {
    const r = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path, headers: { authorization: `Bearer ${tb.adminToken}` } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal([r.status, r.body.error.code], [400, ErrorCode.BAD_REQUEST], `${path}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, /'\.' or '\.\.' segments/);
  }
});

const enroll = suite('bad enrollment');
enroll.before(async () => {
  tb = await TestBroker.start();
});
enroll.after.each(async () => {
  await end(...clients.splice(0));
});
enroll.after(async () => {
  await tb.stop();
});

async function token(uses: number, expiresIn: number | string): Promise<{ id: string; token: string; expiresAt: number }> {
  const r = await tb.api('POST', '/api/enrollment-tokens', { uses, expiresIn });
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function enrollWith(secret: string, mac: string, body: unknown = { mac, model: 'test-board', fw: '1.0.0' }): Promise<any> {
  const client = track(await connect(tb.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: secret }));
  await subscribe(client, enrollReplyTopic(mac));
  const reply = waitFor(client, (t) => t === enrollReplyTopic(mac), 5000, 'the enroll reply');
  await publish(client, enrollTopic(mac), typeof body === 'string' ? body : JSON.stringify(body));
  return (await reply).json;
}

enroll('an expired token gets TOKEN_EXPIRED and registers nothing', async () => {
  const t = await token(5, 1);
  await waitUntil(() => Date.now() > t.expiresAt + 50, 3000, 'the token to expire');
  const mac = randomMac();
  await unchanged('an expired token', async () => {
    expectResponseError(await enrollWith(t.token, mac), ErrorCode.TOKEN_EXPIRED);
  });
  assert.is((await tb.api('GET', `/api/devices/esp32-${mac}`)).status, 404);
  await stillServes();
});

enroll('a used-up token gets TOKEN_USED_UP', async () => {
  const t = await token(1, '1h');
  const first = await enrollWith(t.token, randomMac());
  assert.ok(first.ok, JSON.stringify(first));
  const mac = randomMac();
  await unchanged('a used-up token', async () => {
    expectResponseError(await enrollWith(t.token, mac), ErrorCode.TOKEN_USED_UP);
  });
  assert.is((await tb.api('GET', `/api/devices/esp32-${mac}`)).status, 404);
  await stillServes();
});

enroll('an unknown token is refused at CONNACK', async () => {
  const mac = randomMac();
  await unchanged('an unknown token', async () => {
    const err = await connectRefused(tb.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: 'no-such-token' });
    assert.match(err.message, /Bad username or password/i);
  });
  await stillServes();
});

enroll('malformed or mismatched enroll requests get specific errors and use nothing', async () => {
  const t = await token(3, '1h');
  const mac = randomMac();
  await unchanged('bad enroll requests', async () => {
    expectResponseError(await enrollWith(t.token, mac, '{"mac":'), ErrorCode.BAD_REQUEST);
    expectResponseError(await enrollWith(t.token, mac, { mac, model: 7, fw: '1' }), ErrorCode.BAD_REQUEST, 'model');
    expectResponseError(await enrollWith(t.token, mac, { mac: 'zz', model: 'm', fw: '1' }), ErrorCode.BAD_ID, 'mac');
    expectResponseError(await enrollWith(t.token, mac, { mac: randomMac(), model: 'm', fw: '1' }), ErrorCode.FORBIDDEN, 'mac');
  });
  const err = await connectRefused(tb.broker.mqttUrl, { clientId: 'enroll-not-a-mac', username: 'enroll', password: t.token });
  assert.match(err.message, /Identifier rejected/i);
  await stillServes();
});

bad.run();
enroll.run();
