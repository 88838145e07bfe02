// JSON payload fuzzing: every REST route with a body gets bodies derived from its own schema (the
// one in protocol/rest-schemas.ts, as the broker's OpenAPI document publishes it), mutated and
// plain random JSON; agents' requests on MQTT get every op with typed and random fields; a device
// publishes random acks, hellos and events. Bad input is refused with a code from the closed list
// (never a 500), every agent request with an id gets exactly one answer, and afterwards a canary
// device and agent still run a job.
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { agentTopic, deviceTopic, eventTopic } from '../../protocol/topics';
import { TestBroker } from '../helpers/broker';
import { JobDevice } from '../helpers/job-device';
import { type Agent, claim, identify, jobIn, submitOk } from '../helpers/jobs';
import { end, publish, recorder, subscribe } from '../helpers/mqtt';
import { barrier } from '../helpers/barrier';
import { waitUntil } from '../helpers/wait';
import { suite } from '../helpers/suite';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const PER_ROUTE = 12;
const CODES = new Set<string>(Object.values(ErrorCode));

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  additionalProperties?: unknown;
};

/** Values a JSON schema admits (roughly: patterns and formats are left to chance). */
function fromSchema(s: Schema | undefined): fc.Arbitrary<unknown> {
  if (!s) return fc.jsonValue();
  if (s.enum) return fc.constantFrom(...s.enum);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((t) => fromSchema({ ...s, type: t })));
  switch (types[0]) {
    case 'string':
      return fc.string({
        minLength: s.minLength ?? 0,
        maxLength: Math.min(s.maxLength ?? 40, 300),
        unit: fc.constantFrom('grapheme-composite', 'binary') as never,
      });
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(fromSchema(s.items), { maxLength: 5 });
    case 'object': {
      const props = s.properties ?? {};
      const record = fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromSchema(v)])), { requiredKeys: s.required ?? [] });
      return s.additionalProperties === undefined || s.additionalProperties === true
        ? fc.tuple(record, fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 2 })).map(([r, extra]) => ({ ...extra, ...r }))
        : record;
    }
    default:
      return fc.jsonValue();
  }
}

/** A schema-shaped body, the same with one field broken, or anything at all. */
function bodies(s: Schema): fc.Arbitrary<unknown> {
  const keys = Object.keys(s.properties ?? {});
  const broken =
    keys.length === 0
      ? fc.jsonValue()
      : fc.tuple(fromSchema(s), fc.constantFrom(...keys), fc.jsonValue()).map(([b, k, v]) => (typeof b === 'object' && b !== null ? { ...b, [k]: v } : b));
  return fc.oneof(fromSchema(s), broken, fc.jsonValue(), fc.string());
}

let tb: TestBroker;
const s = suite('JSON payload fuzzing');
s.before(async () => {
  tb = await TestBroker.start({ requestRate: 100_000, requestBurst: 100_000, agentRequestRate: 100_000, agentRequestBurst: 100_000 });
});
s.after(async () => {
  await tb?.stop();
});

s(`every REST route with a body, ${PER_ROUTE} bodies each from its schema (seed ${SEED})`, async () => {
  const doc = (await tb.api('GET', '/api/openapi.json')).body as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  };
  const dev = await tb.provision();
  const ids = [dev.id, 'esp32-000000000000', '0', '%2e%2e', 'x'.repeat(80)];
  let sent = 0;
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const schema = op.requestBody?.content['application/json']?.schema;
      if (!schema) continue;
      const samples = fc.sample(fc.tuple(bodies(schema), fc.constantFrom(...ids)), { numRuns: PER_ROUTE, seed: SEED + sent });
      for (const [body, id] of samples) {
        const url = path.replace(/\{[^}]+\}/g, id);
        const r = await tb.api(method.toUpperCase(), url, body === undefined ? null : body);
        sent++;
        assert.ok(
          r.status < 500,
          `${method.toUpperCase()} ${url} ${JSON.stringify(body)?.slice(0, 300)} answered ${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`,
        );
        if (r.status >= 400)
          assert.ok(
            CODES.has(r.body?.error?.code),
            `${method.toUpperCase()} ${url}: error code ${JSON.stringify(r.body)?.slice(0, 200)} is not in the closed list`,
          );
      }
    }
  }
  console.log(`\nREST: ${sent} fuzzed bodies`);
  assert.ok(sent > 0);
});

s(`agent requests, device acks, hellos and events with random fields (seed ${SEED})`, async () => {
  const a = await tb.agent('fuzz-agent');
  const dev = await tb.provision();
  const device = await JobDevice.connect(tb.broker.mqttUrl, dev, { durationMs: 5 });
  await claim(a as Agent, dev.id);
  const seen = recorder(a.client);
  const field = fc.oneof(fc.jsonValue(), fc.constant(dev.id), fc.constant('identify'), fc.string({ maxLength: 20 }));
  const req = fc.record(
    {
      op: fc.oneof(fc.constantFrom('claim', 'release', 'list', 'submit', 'cancel', 'jobs', 'settings', 'transfer'), fc.jsonValue()),
      target: field,
      device: field,
      kind: field,
      params: fc.jsonValue(),
      job: field,
      ttl: fc.jsonValue(),
      idempotencyKey: field,
      limit: fc.jsonValue(),
      settings: fc.jsonValue(),
      code: field,
    },
    { requiredKeys: ['op'] },
  );
  const reqs = fc.sample(req, { numRuns: 150, seed: SEED });
  const ids: string[] = [];
  for (const [i, r] of reqs.entries()) {
    const id = `fz${i}`;
    ids.push(id);
    await publish(a.client, agentTopic(a.id, 'req'), { ...(r as object), id });
  }
  // Not JSON, or JSON without an id: answered or not, never a crash.
  for (const junk of ['', '{', 'null', '[1,2]', '"x"', '{"op":"submit"}']) await publish(a.client, agentTopic(a.id, 'req'), junk);
  const devicePayloads = fc.sample(
    fc.tuple(
      fc.constantFrom('ack', 'hello', 'evt'),
      fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.string(),
      ),
    ),
    { numRuns: 150, seed: SEED + 1 },
  );
  for (const [leaf, payload] of devicePayloads)
    await publish(device.client, leaf === 'evt' ? eventTopic(dev.id, 'fuzz') : deviceTopic(dev.id, leaf as 'ack' | 'hello'), payload);
  // A request's answer can follow the barrier: those that touch the registry answer after their
  // commit. Each must come, and exactly once (a second barrier catches a late copy).
  const answered = (): Set<string> =>
    new Set(
      seen
        .filter((m) => m.topic === agentTopic(a.id, 'res'))
        .map((m) => (m.json as { id?: unknown })?.id)
        .filter((x): x is string => typeof x === 'string'),
    );
  await waitUntil(
    () => ids.every((id) => answered().has(id)),
    30_000,
    () => `an answer to every request (missing: ${ids.filter((id) => !answered().has(id)).join(', ')})`,
  );
  await barrier(tb, [{ device: { client: device.client, dev } }], [{ agent: a }]);

  const answers = seen.filter(
    (m) => m.topic === agentTopic(a.id, 'res') && typeof (m.json as { id?: unknown })?.id === 'string' && ids.includes((m.json as { id: string }).id),
  );
  const byId = new Map<string, number>();
  for (const m of answers) byId.set((m.json as { id: string }).id, (byId.get((m.json as { id: string }).id) ?? 0) + 1);
  for (const id of ids) assert.is(byId.get(id), 1, `request ${id} (${JSON.stringify(reqs[ids.indexOf(id)]).slice(0, 200)}) got ${byId.get(id) ?? 0} answers`);
  for (const m of answers) {
    const j = m.json as { ok: boolean; error?: { code: string } };
    if (!j.ok) assert.ok(CODES.has(j.error?.code ?? ''), `error code ${JSON.stringify(j.error)} is not in the closed list`);
  }
  console.log(
    `\nMQTT: ${reqs.length} agent requests (${answers.filter((m) => (m.json as { ok: boolean }).ok).length} ok), ${devicePayloads.length} device payloads`,
  );

  // The canary: a fresh pair still runs a job (the fuzzed device may have been given odd jobs or released).
  const c = await tb.agent('canary');
  const cdev = await tb.provision();
  const cdevice = await JobDevice.connect(tb.broker.mqttUrl, cdev, { durationMs: 5 });
  await claim(c as Agent, cdev.id);
  await subscribe(c.client, deviceTopic(cdev.id, 'jobs'));
  await jobIn(tb, await submitOk(c as Agent, identify(cdev.id)), ['done'], tb.adminToken, 20_000);
  await device.close();
  await cdevice.close();
  await end(a.client, c.client);
});

s.run();
