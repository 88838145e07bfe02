// Walk-up orders over REST and MQTT against a real broker: a customer session from an order
// label uploads a design and orders on its one machine; it follows only its own orders on
// fb/v1/o/<order>; every attack from the list in docs/architecture.md ("Walk-up orders") is
// refused with its own error and changes nothing; the N+1th order in an hour gets 429.
import sharp from 'sharp';
import * as assert from 'uvu/assert';
import { ORDER_DEFAULTS } from '../../broker/orders/options';
import { orderTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { type Agent } from '../helpers/jobs';
import { end, recorder, subscribe } from '../helpers/mqtt';
import { type Customer, claimLabel, connectCustomer, customerApi, noisyImage, openCustomer, order, orderLabel, orderMachine, upload } from '../helpers/orders';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite('walk-up orders');
let tb: TestBroker;
let agent: Agent;

t.before(async () => {
  tb = await TestBroker.start({ jobAckTimeoutMs: 500, orders: { ...ORDER_DEFAULTS, uploadMaxBytes: 600 * 1024 } });
  agent = await tb.agent(`op${process.pid}`);
});
t.after(async () => {
  await end(agent.client);
  await tb.stop();
});

const base = (): string => tb.broker.httpUrl;

async function counts(): Promise<{ sessions: number; orders: number; jobs: number; designs: number }> {
  const n = async (table: 'customer_sessions' | 'orders' | 'designs'): Promise<number> => (await tb.ctx.db.selectFrom(table).select(({ fn }) => fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
  const jobs = Number((await tb.api('GET', '/api/jobs?limit=500')).body.length);
  return { sessions: Number(await n('customer_sessions')), orders: Number(await n('orders')), designs: Number(await n('designs')), jobs };
}

async function designFor(c: Customer): Promise<string> {
  const r = await upload(base(), c, await noisyImage(300, 400));
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body.design as string;
}

t('a customer uploads, orders and follows its order; a second customer on the same machine waits behind it', async () => {
  const m = await orderMachine(tb, agent, { mode: 'hold' });
  const a = await openCustomer(base(), orderLabel(tb, m.code));
  assert.is(a.machine.code, m.code);
  assert.is(a.machine.status, 'idle');
  // A JPEG named .PNG, sent as octet-stream, carrying EXIF an owner would not want printed or kept.
  const photo = await sharp(await noisyImage(500, 700, 'jpeg')).withExif({ IFD0: { Copyright: 'secret-owner-name' } }).jpeg().toBuffer();
  assert.ok(photo.includes(Buffer.from('secret-owner-name')));
  const up = await upload(base(), a, photo, 'photo.PNG', 'application/octet-stream');
  assert.is(up.status, 201, JSON.stringify(up.body));
  assert.match(up.body.design, /^[0-9a-f]{64}$/);
  // Fitted to the default print format with its DPI, metadata gone.
  const printed = await fetch(base() + tb.ctx.blobUrls.path(up.body.design, 60_000));
  const printedBytes = Buffer.from(await printed.arrayBuffer());
  const meta = await sharp(printedBytes).metadata();
  assert.equal([meta.format, meta.width, meta.height, meta.density], ['png', 886, 1890, 300]);
  assert.not.ok(printedBytes.includes(Buffer.from('secret-owner-name')), 'EXIF is stripped');
  assert.is((await fetch(base() + up.body.thumb)).headers.get('content-type'), 'image/png');

  const first = await order(base(), a, { design: up.body.design, copies: 2 });
  assert.is(first.status, 201, JSON.stringify(first.body));
  assert.is(first.body.copies, 2);
  const aClient = await connectCustomer(tb.broker.wsUrl, a);
  const aLog = recorder(aClient);
  assert.equal(await subscribe(aClient, orderTopic(first.body.order)), [0]);

  const b = await openCustomer(base(), orderLabel(tb, m.code));
  const second = await order(base(), b, { design: await designFor(b) });
  assert.is(second.status, 201, JSON.stringify(second.body));
  const bClient = await connectCustomer(tb.broker.wsUrl, b);
  const bLog = recorder(bClient);
  assert.equal(await subscribe(bClient, orderTopic(second.body.order)), [0]);
  // The device holds the first; the second waits one place behind it.
  await waitUntil(() => m.device.isRunning(first.body.order), 10_000, 'the first order printing');
  const bState = await waitUntil(async () => {
    const s = (await customerApi(base(), b, 'GET', `/api/orders/${b.session}`)).body;
    return s.orders[0]?.position === 1 ? s : undefined;
  }, 10_000, 'the second order at position 1');
  assert.is(bState.orders.length, 1, 'a customer sees only its own orders');
  assert.is(bState.machine.status, 'busy');
  await waitUntil(() => bLog.some((r) => (r.json as any)?.position === 1), 10_000, 'position 1 live on the order topic');
  // Cross-subscription is refused: the other customer's order, device topics, wildcards.
  for (const topic of [orderTopic(first.body.order), `fb/v1/d/${m.device.id}/jobs`, 'fb/v1/o/+', 'fb/v1/#', '#']) {
    assert.equal(await subscribe(bClient, topic), [128], topic);
  }
  await m.device.ack({ job: first.body.order, state: 'done' });
  await waitUntil(() => aLog.some((r) => (r.json as any)?.state === 'done'), 10_000, 'done on the first order topic');
  await waitUntil(() => bLog.some((r) => (r.json as any)?.position === 0), 10_000, 'the second order printing');
  for (const r of bLog) assert.is(r.topic, orderTopic(second.body.order), 'only its own order topic reaches b');
  for (const r of aLog) assert.is(r.topic, orderTopic(first.body.order));
  assert.not.ok(bLog.some((r) => r.text.includes(first.body.order) || r.text.includes(a.session)));
  await m.device.ack({ job: second.body.order, state: 'done' });
  await end(aClient);
  await end(bClient);
  await m.device.close();
});

t('attacks are refused with their own error and change nothing', async () => {
  const m1 = await orderMachine(tb, agent, { mode: 'hold' });
  const m2 = await orderMachine(tb, agent, { mode: 'hold' });
  const a = await openCustomer(base(), orderLabel(tb, m1.code));
  const b = await openCustomer(base(), orderLabel(tb, m2.code));
  const design = await designFor(a);
  const placed = await order(base(), a, { design });
  assert.is(placed.status, 201);
  const before = await counts();

  const refusals: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ["a's token on b's session", () => customerApi(base(), a, 'GET', `/api/orders/${b.session}`), 403, 'FORBIDDEN'],
    ["a's token ordering on another machine", () => order(base(), a, { design, machine: m2.code }), 403, 'WRONG_MACHINE'],
    ["b ordering a's design", () => order(base(), b, { design }), 404, 'NOT_FOUND'],
    ['a claim label URL as an order label', () => tb.api('POST', '/api/orders/sessions', { label: `https://x.example${claimLabel(tb, m1.code)}` }, undefined), 400, 'WRONG_LABEL'],
    ['a claim label as an order label', () => tb.api('POST', '/api/orders/sessions', { label: claimLabel(tb, m1.code).slice(3) }, undefined), 400, 'WRONG_LABEL'],
    ['a forged order label', () => tb.api('POST', '/api/orders/sessions', { label: `/o/${m1.code}.0123456789abcdef` }, undefined), 404, 'UNKNOWN_MACHINE'],
    ["b cancelling a's order", () => customerApi(base(), b, 'POST', `/api/orders/${b.session}/orders/${placed.body.order}/cancel`), 404, 'NOT_FOUND'],
    ['no token', () => tb.api('GET', `/api/orders/${a.session}`, undefined, undefined), 401, 'UNAUTHORIZED'],
    ["an agent's token as a customer's", () => tb.api('GET', `/api/orders/${a.session}`, undefined, agent.token), 401, 'UNAUTHORIZED'],
    ['a polyglot: a PNG header on an HTML body', () => upload(base(), a, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('<html><script>alert(1)</script></html>')])), 415, 'BAD_IMAGE'],
    ['HTML named .png', () => upload(base(), a, Buffer.from('<html><body>hi</body></html>'), 'x.png', 'image/png'), 415, 'BAD_IMAGE'],
    ['a truncated PNG', async () => upload(base(), a, (await noisyImage(200, 200)).subarray(0, 5000)), 415, 'BAD_IMAGE'],
    ['an oversize upload', async () => upload(base(), a, await noisyImage(500, 500)), 413, 'TOO_LARGE'],
    ['a pixel bomb', async () => upload(base(), a, await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer()), 422, 'IMAGE_BOMB'],
    ['a ratio bomb', async () => upload(base(), a, await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#fff' } }).webp({ lossless: true }).toBuffer(), 'flat.webp', 'image/webp'), 422, 'IMAGE_BOMB'],
  ];
  for (const [what, attempt, status, code] of refusals) {
    const r = await attempt();
    assert.is(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.is(r.body.error.code, code, what);
  }
  // An order label cannot claim, over MQTT either.
  for (const target of [`https://x.example${orderLabel(tb, m1.code)}`, orderLabel(tb, m1.code).slice(3)]) {
    const other = await tb.agent(`thief${process.pid}${target.length}`);
    const r = await request(other.client, { kind: 'agent', id: other.id }, { op: 'claim', target });
    assert.is(r.error?.code, 'WRONG_LABEL', target);
    await end(other.client);
  }
  const after = await counts();
  assert.equal({ ...after, sessions: before.sessions }, before, 'no order, job or design was added');
  assert.is(after.sessions, before.sessions, 'no session was opened by a refused label');
  const still = await customerApi(base(), a, 'GET', `/api/orders/${a.session}`);
  assert.ok(['queued', 'dispatched', 'running'].includes(still.body.orders[0].state), 'the attacked order is untouched');

  // MQTT: wrong client id, wrong token, and another session's topics.
  const stolen = await connectCustomer(tb.broker.wsUrl, { ...b, token: a.token }).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(stolen, "a's token does not open b's MQTT identity");
  const bClient = await connectCustomer(tb.broker.wsUrl, b);
  assert.equal(await subscribe(bClient, orderTopic(placed.body.order)), [128]);
  await end(bClient);

  // An expired session: refused, and nothing it asks changes anything.
  const realNow = tb.ctx.now;
  tb.ctx.now = () => realNow() + ORDER_DEFAULTS.sessionIdleMs + 1000;
  try {
    const r = await order(base(), a, { design });
    assert.is(r.status, 401);
    assert.is(r.body.error.code, 'SESSION_EXPIRED');
    const refused = await connectCustomer(tb.broker.wsUrl, a).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(refused, 'an expired session cannot connect');
  } finally {
    tb.ctx.now = realNow;
  }
  const last = await counts();
  assert.equal({ ...last, sessions: before.sessions }, before);
  // Maintenance: a clear refusal, then orders again.
  assert.is((await tb.api('POST', `/api/devices/${m2.device.id}/order-settings`, { maintenance: true }, agent.token)).status, 200);
  const d2 = await designFor(b);
  const refused = await order(base(), b, { design: d2 });
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'NOT_TAKING_ORDERS');
  assert.match(refused.body.error.message, /maintenance/);
  assert.is((await tb.api('POST', `/api/devices/${m2.device.id}/order-settings`, { enabled: false }, agent.token)).body.error.code, 'FORBIDDEN', 'only admins open machines to orders');
  await m1.device.close();
  await m2.device.close();
});

t('the N+1th order in the hour is answered 429 with Retry-After', async () => {
  const limited = await TestBroker.start({ orders: { ...ORDER_DEFAULTS, ordersPerHour: 2 } });
  try {
    const op = await limited.agent(`rl${process.pid}`);
    const m = await orderMachine(limited, op, { mode: 'hold' });
    const c = await openCustomer(limited.broker.httpUrl, orderLabel(limited, m.code));
    const up = await upload(limited.broker.httpUrl, c, await noisyImage(100, 100));
    for (let i = 0; i < 2; i++) assert.is((await order(limited.broker.httpUrl, c, { design: up.body.design })).status, 201);
    const third = await order(limited.broker.httpUrl, c, { design: up.body.design });
    assert.is(third.status, 429, JSON.stringify(third.body));
    assert.is(third.body.error.code, 'RATE_LIMITED');
    assert.ok(Number(third.headers.get('retry-after')) > 0, `Retry-After: ${third.headers.get('retry-after')}`);
    const orders = (await customerApi(limited.broker.httpUrl, c, 'GET', `/api/orders/${c.session}`)).body.orders;
    assert.is(orders.length, 2, 'the refused order was not placed');
    await m.device.close();
    await end(op.client);
  } finally {
    await limited.stop();
  }
});

t.run();
