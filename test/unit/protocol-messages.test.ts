import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import {
  ACK_STATES,
  ADMIN_OPS,
  AGENT_OPS,
  parseAck,
  parseAdminRequest,
  parseAgentRequest,
  parseCmd,
  parseConfig,
  parseEnrollReply,
  parseEnrollRequest,
  parseHello,
  requestIdOf,
} from '../../protocol/messages';
import { expectProtocolError, attempt } from '../helpers/protocol';

const { BAD_REQUEST, BAD_ID, UNKNOWN_OP } = ErrorCode;
const DEV = 'esp32-a4cf12b4c9e0';
type Obj = Record<string, unknown>;

const HELLO: Obj = {
  fw: '1.2.0',
  model: 'esp32-devkitc',
  mac: 'A4:CF:12:B4:C9:E0',
  caps: ['qr.show', 'identify'],
  boot: 3,
  uptime: 12.5,
  concurrency: 2,
  machine: 'ct0700026',
};
const CMD: Obj = { job: 'j-1', kind: 'identify', params: { seconds: 3 }, attempt: 1, deadline: 1_700_000_000_000, cancel: true };

const agent = suite('messages: parseAgentRequest');

agent('parses each op and normalises ids', () => {
  assert.equal(parseAgentRequest({ id: 'r1', op: 'claim', target: 'CT0700026' }), { id: 'r1', op: 'claim', target: 'CT0700026' });
  assert.equal(parseAgentRequest({ id: 2, op: 'claim', code: 'K7Q2' }), { id: 2, op: 'claim', target: undefined, code: 'K7Q2' });
  assert.equal(parseAgentRequest({ id: 3, op: 'release', device: ' ESP32-A4CF12B4C9E0 ' }), { id: 3, op: 'release', device: DEV });
  assert.equal(parseAgentRequest({ op: 'list' }), { id: null, op: 'list' });
  assert.equal(parseAgentRequest({ id: 4, op: 'submit', device: DEV, kind: 'identify' }), { id: 4, op: 'submit', device: DEV, kind: 'identify', params: {} });
  assert.equal(parseAgentRequest({ id: 5, op: 'submit', device: DEV, kind: 'identify', params: { seconds: 2 }, ttl: 60, idempotencyKey: 'k1' }), {
    id: 5,
    op: 'submit',
    device: DEV,
    kind: 'identify',
    params: { seconds: 2 },
    ttl: 60,
    idempotencyKey: 'k1',
  });
  assert.equal(parseAgentRequest({ id: 6, op: 'cancel', job: 'J-1' }), { id: 6, op: 'cancel', job: 'j-1' });
  assert.equal(parseAgentRequest({ id: 7, op: 'submit', pool: ' Hall-1 ', kind: 'identify' }), {
    id: 7,
    op: 'submit',
    pool: 'hall-1',
    kind: 'identify',
    params: {},
  });
  assert.equal(parseAgentRequest({ id: 8, op: 'submit', primary: true, fallback: 'pool', kind: 'identify' }), {
    id: 8,
    op: 'submit',
    primary: true,
    fallback: 'pool',
    kind: 'identify',
    params: {},
  });
  assert.equal(
    parseAgentRequest({ id: 9, op: 'submit', kind: 'identify' }),
    { id: 9, op: 'submit', kind: 'identify', params: {} },
    'a submit with no target parses; the broker answers BAD_TARGET with the options',
  );
  assert.equal(parseAgentRequest({ id: 7, op: 'jobs', device: DEV }), { id: 7, op: 'jobs', device: DEV });
  assert.equal(parseAgentRequest({ id: 8, op: 'jobs', device: 263, limit: 50 }), { id: 8, op: 'jobs', device: '263', limit: 50 });
});

agent('echoes a usable request id and drops an unusable one', () => {
  assert.is(requestIdOf({ id: 'abc' }), 'abc');
  assert.is(requestIdOf({ id: 0 }), 0);
  for (const bad of [{ id: 'x'.repeat(65) }, { id: {} }, { id: true }, { id: NaN }, {}, null, 'id']) assert.is(requestIdOf(bad), null);
  assert.is(parseAgentRequest({ id: 'x'.repeat(65), op: 'list' }).id, null);
});

agent('refuses a non-object, a missing op and an unknown op', () => {
  for (const bad of [null, [], 'claim', 5, true]) expectProtocolError(() => parseAgentRequest(bad), BAD_REQUEST, 'request');
  expectProtocolError(() => parseAgentRequest({ id: 1 }), BAD_REQUEST, 'op');
  expectProtocolError(() => parseAgentRequest({ op: 3 }), BAD_REQUEST, 'op');
  for (const op of ['reboot', 'transfer', 'CLAIM', '', 'constructor', '__proto__']) expectProtocolError(() => parseAgentRequest({ op }), UNKNOWN_OP, 'op');
  const e = expectProtocolError(() => parseAgentRequest({ op: 'x'.repeat(10_000) }), UNKNOWN_OP, 'op');
  assert.ok(e.message.length < 100, 'an unknown op is not echoed at length');
});

agent('names the wrong field of each op', () => {
  expectProtocolError(() => parseAgentRequest({ op: 'claim' }), BAD_REQUEST, 'target');
  expectProtocolError(() => parseAgentRequest({ op: 'claim', code: 'K7Q' }), BAD_REQUEST, 'code');
  expectProtocolError(() => parseAgentRequest({ op: 'claim', code: 1234 }), BAD_REQUEST, 'code');
  expectProtocolError(() => parseAgentRequest({ op: 'release' }), BAD_ID, 'device');
  expectProtocolError(() => parseAgentRequest({ op: 'release', device: 'esp32/../x' }), BAD_ID, 'device');
  expectProtocolError(() => parseAgentRequest({ op: 'release', device: '+' }), BAD_ID, 'device');
  expectProtocolError(() => parseAgentRequest({ op: 'submit', device: DEV }), BAD_REQUEST, 'kind');
  expectProtocolError(() => parseAgentRequest({ op: 'submit', device: DEV, kind: 'k'.repeat(65) }), BAD_REQUEST, 'kind');
  for (const ttl of [0, 1.5, 7 * 24 * 3600 + 1, '60'])
    expectProtocolError(() => parseAgentRequest({ op: 'submit', device: DEV, kind: 'identify', ttl }), BAD_REQUEST, 'ttl');
  for (const key of ['', 'k'.repeat(129), 5])
    expectProtocolError(() => parseAgentRequest({ op: 'submit', device: DEV, kind: 'identify', idempotencyKey: key }), BAD_REQUEST, 'idempotencyKey');
  expectProtocolError(() => parseAgentRequest({ op: 'cancel', job: '' }), BAD_ID, 'job');
  expectProtocolError(() => parseAgentRequest({ op: 'submit', pool: 'a/b', kind: 'identify' }), BAD_ID, 'pool');
  expectProtocolError(() => parseAgentRequest({ op: 'submit', primary: false, kind: 'identify' }), 'BAD_TARGET', 'primary');
  expectProtocolError(() => parseAgentRequest({ op: 'submit', device: DEV, fallback: 'any', kind: 'identify' }), 'BAD_TARGET', 'fallback');
  for (const limit of [0, 1001, 2.5]) expectProtocolError(() => parseAgentRequest({ op: 'jobs', device: DEV, limit }), BAD_REQUEST, 'limit');
});

agent.run();

const admin = suite('messages: parseAdminRequest');

admin('parses transfer, release and list', () => {
  assert.equal(parseAdminRequest({ id: 1, op: 'transfer', device: DEV, agent: 263, reason: 'moved site' }), {
    id: 1,
    op: 'transfer',
    device: DEV,
    agent: '263',
    reason: 'moved site',
  });
  assert.equal(parseAdminRequest({ id: 2, op: 'release', device: DEV, reason: 'r', force: true }), {
    id: 2,
    op: 'release',
    device: DEV,
    reason: 'r',
    force: true,
  });
  assert.equal(parseAdminRequest({ op: 'list' }), { id: null, op: 'list' });
});

admin('refuses agent-only ops and names each wrong field', () => {
  for (const op of ['claim', 'submit', 'nope']) expectProtocolError(() => parseAdminRequest({ op }), UNKNOWN_OP, 'op');
  expectProtocolError(() => parseAdminRequest({ op: null }), BAD_REQUEST, 'op');
  expectProtocolError(() => parseAdminRequest({ op: 'transfer', agent: 'b', reason: 'r' }), BAD_ID, 'device');
  expectProtocolError(() => parseAdminRequest({ op: 'transfer', device: DEV, agent: 'agent:b', reason: 'r' }), BAD_ID, 'agent');
  expectProtocolError(() => parseAdminRequest({ op: 'transfer', device: DEV, agent: 'b' }), BAD_REQUEST, 'reason');
  expectProtocolError(() => parseAdminRequest({ op: 'release', device: DEV, reason: '' }), BAD_REQUEST, 'reason');
  expectProtocolError(() => parseAdminRequest({ op: 'release', device: DEV, reason: 'r'.repeat(501) }), BAD_REQUEST, 'reason');
  expectProtocolError(() => parseAdminRequest({ op: 'release', device: DEV, reason: 'r', force: 'yes' }), BAD_REQUEST, 'force');
});

admin.run();

const device = suite('messages: device to broker (hello, ack, enroll)');

device('hello normalises the MAC and machine code and keeps the rest', () => {
  assert.equal(parseHello(HELLO), { ...HELLO, mac: 'a4cf12b4c9e0', machine: 'CT0700026' });
  const minimal = { fw: '1', model: 'm', mac: 'a4cf12b4c9e0', caps: [], boot: 0, uptime: 0 };
  assert.equal(parseHello(minimal), minimal);
  for (const machine of [null, '']) assert.not.ok('machine' in parseHello({ ...minimal, machine }), 'no machine code means none');
});

device('hello names each wrong field', () => {
  const cases: [Obj, ErrorCode, string][] = [
    [{ fw: '' }, BAD_REQUEST, 'fw'],
    [{ fw: 'f'.repeat(65) }, BAD_REQUEST, 'fw'],
    [{ model: 7 }, BAD_REQUEST, 'model'],
    [{ mac: 'a4cf12b4c9' }, BAD_ID, 'mac'],
    [{ caps: 'qr.show' }, BAD_REQUEST, 'caps'],
    [{ caps: Array.from({ length: 33 }, (_, i) => `c${i}`) }, BAD_REQUEST, 'caps'],
    [{ caps: ['ok', 5] }, BAD_REQUEST, 'caps[1]'],
    [{ caps: [''] }, BAD_REQUEST, 'caps[0]'],
    [{ boot: -1 }, BAD_REQUEST, 'boot'],
    [{ boot: 1.5 }, BAD_REQUEST, 'boot'],
    [{ uptime: '5' }, BAD_REQUEST, 'uptime'],
    [{ concurrency: 0 }, BAD_REQUEST, 'concurrency'],
    [{ concurrency: 9 }, BAD_REQUEST, 'concurrency'],
    [{ machine: 'CT 07' }, BAD_ID, 'machine'],
    [{ machine: 7.5 }, BAD_ID, 'machine'],
  ];
  for (const [patch, code, field] of cases) expectProtocolError(() => parseHello({ ...HELLO, ...patch }), code, field);
  expectProtocolError(() => parseHello([HELLO]), BAD_REQUEST, 'hello');
});

device('ack accepts every ack state and names each wrong field', () => {
  for (const state of ACK_STATES) assert.equal(parseAck({ job: 'J1', state }), { job: 'j1', state });
  assert.equal(parseAck({ job: 'j1', state: 'done', progress: 100, result: { reply: 'AQI=' } }), {
    job: 'j1',
    state: 'done',
    progress: 100,
    result: { reply: 'AQI=' },
  });
  assert.equal(parseAck({ job: 'j1', state: 'failed', error: 'uart timeout', result: null }), {
    job: 'j1',
    state: 'failed',
    error: 'uart timeout',
    result: null,
  });
  expectProtocolError(() => parseAck({ job: '../j', state: 'done' }), BAD_ID, 'job');
  expectProtocolError(() => parseAck({ job: 'j1', state: 'finished' }), BAD_REQUEST, 'state');
  expectProtocolError(() => parseAck({ job: 'j1' }), BAD_REQUEST, 'state');
  expectProtocolError(() => parseAck({ job: 'j1', state: 'progress', progress: 101 }), BAD_REQUEST, 'progress');
  expectProtocolError(() => parseAck({ job: 'j1', state: 'failed', error: { code: 'X' } }), BAD_REQUEST, 'error');
  expectProtocolError(() => parseAck('done'), BAD_REQUEST, 'ack');
});

device('enrollment request normalises the MAC and names each wrong field', () => {
  assert.equal(parseEnrollRequest({ mac: 'a4-cf-12-b4-c9-e0', model: 'm', fw: '1', machine: ' ct1 ' }), {
    mac: 'a4cf12b4c9e0',
    model: 'm',
    fw: '1',
    machine: 'CT1',
  });
  assert.equal(parseEnrollRequest({ mac: 'a4cf.12b4.c9e0', model: 'm', fw: '1', machine: null }), { mac: 'a4cf12b4c9e0', model: 'm', fw: '1' });
  expectProtocolError(() => parseEnrollRequest({ model: 'm', fw: '1' }), BAD_ID, 'mac');
  expectProtocolError(() => parseEnrollRequest({ mac: 'a4cf12b4c9e0', fw: '1' }), BAD_REQUEST, 'model');
  expectProtocolError(() => parseEnrollRequest({ mac: 'a4cf12b4c9e0', model: 'm', fw: '' }), BAD_REQUEST, 'fw');
  expectProtocolError(() => parseEnrollRequest({ mac: 'a4cf12b4c9e0', model: 'm', fw: '1', machine: 'C.T' }), BAD_ID, 'machine');
  expectProtocolError(() => parseEnrollRequest(null), BAD_REQUEST, 'enroll');
});

device.run();

const broker = suite('messages: broker to device (cmd, config, enroll reply)');

broker('cmd keeps params, defaults them to {}, and sets cancel or complete only when true', () => {
  assert.equal(parseCmd(CMD), CMD);
  const bare = { job: 'j1', kind: 'qr.show', params: {}, attempt: 2, deadline: 0 };
  assert.equal(parseCmd({ ...bare, params: undefined, cancel: 'yes', complete: 1 }), bare);
  assert.equal(parseCmd({ ...bare, complete: true }), { ...bare, complete: true });
  // A cancelled job cannot also be completed.
  assert.equal(parseCmd({ ...bare, cancel: true, complete: true }), { ...bare, cancel: true });
});

broker('cmd names each wrong field', () => {
  const cases: [Obj, ErrorCode, string][] = [
    [{ job: 'J..1' }, BAD_ID, 'job'],
    [{ kind: null }, BAD_REQUEST, 'kind'],
    [{ params: [] }, BAD_REQUEST, 'params'],
    [{ params: 'seconds=3' }, BAD_REQUEST, 'params'],
    [{ attempt: 0 }, BAD_REQUEST, 'attempt'],
    [{ attempt: 1.5 }, BAD_REQUEST, 'attempt'],
    [{ deadline: -1 }, BAD_REQUEST, 'deadline'],
    [{ deadline: '1700000000000' }, BAD_REQUEST, 'deadline'],
  ];
  for (const [patch, code, field] of cases) expectProtocolError(() => parseCmd({ ...CMD, ...patch }), code, field);
});

broker('config with and without a bound agent', () => {
  assert.equal(parseConfig({ agent: null, claimCode: 'K7Q2', settings: { brightness: 3 } }), { agent: null, claimCode: 'K7Q2', settings: { brightness: 3 } });
  assert.equal(parseConfig({ agent: { id: 263, name: 'Kiosk team' }, machine: 'CT0700026' }), {
    agent: { id: '263', name: 'Kiosk team' },
    machine: 'CT0700026',
    settings: {},
  });
  assert.equal(parseConfig({}), { agent: null, settings: {} });
});

broker('config names each wrong field, nested ones by path', () => {
  expectProtocolError(() => parseConfig({ agent: 'a' }), BAD_REQUEST, 'agent');
  expectProtocolError(() => parseConfig({ agent: { id: '', name: 'n' } }), BAD_ID, 'agent.id');
  expectProtocolError(() => parseConfig({ agent: { id: 'a', name: 5 } }), BAD_REQUEST, 'agent.name');
  expectProtocolError(() => parseConfig({ agent: { id: 'a', name: 'n'.repeat(129) } }), BAD_REQUEST, 'agent.name');
  expectProtocolError(() => parseConfig({ agent: null, settings: [] }), BAD_REQUEST, 'settings');
  expectProtocolError(() => parseConfig({ agent: null, claimCode: 'K7Q' }), BAD_REQUEST, 'claimCode');
  expectProtocolError(() => parseConfig({ agent: null, machine: 'M'.repeat(33) }), BAD_REQUEST, 'machine');
  expectProtocolError(() => parseConfig(7), BAD_REQUEST, 'config');
});

broker('enroll reply: success or error, each wrong field named', () => {
  const secret = 's'.repeat(32);
  assert.equal(parseEnrollReply({ ok: true, deviceId: 'ESP32-A4CF12B4C9E0', secret }), { ok: true, deviceId: DEV, secret });
  assert.equal(parseEnrollReply({ ok: false, error: { code: 'TOKEN_EXPIRED', message: 'token expired' } }), {
    ok: false,
    error: { code: 'TOKEN_EXPIRED', message: 'token expired' },
  });
  expectProtocolError(() => parseEnrollReply({ ok: true, deviceId: 'esp32 a4', secret }), BAD_ID, 'deviceId');
  expectProtocolError(() => parseEnrollReply({ ok: true, deviceId: DEV, secret: 'short' }), BAD_REQUEST, 'secret');
  expectProtocolError(() => parseEnrollReply({ ok: false }), BAD_REQUEST, 'error');
  expectProtocolError(() => parseEnrollReply({ ok: false, error: { message: 'm' } }), BAD_REQUEST, 'error.code');
  expectProtocolError(() => parseEnrollReply({ ok: false, error: { code: 'X', message: 'm'.repeat(501) } }), BAD_REQUEST, 'error.message');
});

broker.run();

// Valid messages of every kind; the properties below corrupt them one field at a time.
const PARSERS: { name: string; parse: (v: unknown) => unknown; valid: Obj[]; structural: string[] }[] = [
  {
    name: 'parseAgentRequest',
    parse: parseAgentRequest,
    valid: [
      { id: 1, op: 'claim', target: 'CT0700026', code: 'K7Q2' },
      { id: 2, op: 'release', device: DEV },
      { id: 3, op: 'submit', device: DEV, kind: 'identify', params: { seconds: 1 }, ttl: 60, idempotencyKey: 'k' },
      { id: 4, op: 'cancel', job: 'j1' },
      { id: 5, op: 'jobs', device: DEV, limit: 10 },
    ],
    // Changing the op changes which fields are required, so a refusal may name another field.
    structural: ['op'],
  },
  {
    name: 'parseAdminRequest',
    parse: parseAdminRequest,
    valid: [
      { id: 1, op: 'transfer', device: DEV, agent: 'b', reason: 'r', force: false },
      { id: 2, op: 'release', device: DEV, reason: 'r' },
    ],
    structural: ['op'],
  },
  { name: 'parseHello', parse: parseHello, valid: [HELLO], structural: [] },
  { name: 'parseAck', parse: parseAck, valid: [{ job: 'j1', state: 'progress', progress: 50, error: 'e', result: 1 }], structural: [] },
  { name: 'parseEnrollRequest', parse: parseEnrollRequest, valid: [{ mac: 'a4cf12b4c9e0', model: 'm', fw: '1', machine: 'CT1' }], structural: [] },
  { name: 'parseCmd', parse: parseCmd, valid: [CMD], structural: [] },
  { name: 'parseConfig', parse: parseConfig, valid: [{ agent: { id: 'a', name: 'A' }, claimCode: 'K7Q2', machine: 'CT1', settings: {} }], structural: [] },
  {
    name: 'parseEnrollReply',
    parse: parseEnrollReply,
    valid: [
      { ok: true, deviceId: DEV, secret: 's'.repeat(16) },
      { ok: false, error: { code: 'BAD_ID', message: 'm' } },
    ],
    // ok selects the success or the error shape.
    structural: ['ok'],
  },
];

const props = suite('messages: properties');

props('the valid fixtures parse, and every parser output parses to itself', () => {
  for (const { name, parse, valid } of PARSERS) {
    for (const v of valid) {
      const once = parse(v);
      assert.equal(parse(once), once, name);
    }
  }
});

props('no JSON value makes a parser throw anything but a ProtocolError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      for (const { parse } of PARSERS) attempt(() => parse(v));
    }),
  );
});

props('mixes of known fields with valid or arbitrary values: refused only with a ProtocolError, and accepted output re-parses to itself', () => {
  // Each known field is absent, or mostly a value some valid message uses, or any JSON value; so
  // both acceptance and every refusal path are reached.
  const valid = PARSERS.flatMap((p) => p.valid);
  const keys = [...new Set(valid.flatMap((v) => Object.keys(v)))];
  const usedValues = (key: string): unknown[] => valid.flatMap((v) => (key in v ? [v[key]] : []));
  const model: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(
    keys.map((key) => [key, fc.oneof({ arbitrary: fc.constantFrom(...usedValues(key)), weight: 4 }, { arbitrary: fc.jsonValue(), weight: 1 })]),
  );
  model.op = fc.oneof(fc.constantFrom(...AGENT_OPS, ...ADMIN_OPS), fc.jsonValue());
  const message = fc.record(model, { requiredKeys: [] });
  fc.assert(
    fc.property(message, (v) => {
      for (const { parse } of PARSERS) {
        const once = attempt(() => parse(v));
        if (once !== undefined) assert.equal(parse(once), once);
      }
    }),
    { numRuns: 300 },
  );
});

props('corrupting one field of a valid message is either accepted or refused naming that field', () => {
  const corruption = fc
    .constantFrom(...PARSERS)
    .chain((p) =>
      fc
        .constantFrom(...p.valid)
        .chain((valid) =>
          fc.tuple(
            fc.constant(p),
            fc.constant(valid),
            fc.constantFrom(...Object.keys(valid).filter((k) => k !== 'id' && !p.structural.includes(k))),
            fc.option(fc.jsonValue(), { nil: undefined }),
          ),
        ),
    );
  fc.assert(
    fc.property(corruption, ([p, valid, key, value]) => {
      const corrupted: Obj = { ...valid, [key]: value };
      try {
        p.parse(corrupted);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        const f = e.field ?? '';
        assert.ok(f === key || f.startsWith(`${key}.`) || f.startsWith(`${key}[`), `${p.name}: corrupting '${key}' was refused naming '${f}' (${e.message})`);
      }
    }),
    { numRuns: 500 },
  );
});

props.run();
