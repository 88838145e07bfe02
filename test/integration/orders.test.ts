// Walk-up orders over REST and MQTT against a real broker: a customer session from an order
// label uploads a design and orders on its one machine; it follows only its own orders on
// fb/v1/o/<order>; every attack from the list in docs/architecture.md ("Walk-up orders") is
// refused with its own error and changes nothing; an ended order leaves no retained message; the N+1th order in an hour gets 429, and so
// does an upload past the bytes an hour of its session, its machine or its address.
import sharp from 'sharp';
import * as assert from 'uvu/assert';
import { tokenHash } from '../../broker/auth/secrets';
import { ORDER_DEFAULTS } from '../../broker/orders/options';
import { orderTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { metric } from '../helpers/metrics';
import type { Agent } from '../helpers/jobs';
import { end, recorder, subscribe } from '../helpers/mqtt';
import {
  type Customer,
  claimLabel,
  connectCustomer,
  customerApi,
  noisyImage,
  openCustomer,
  order,
  orderLabel,
  orderMachine,
  retainedOn,
  upload,
} from '../helpers/orders';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite('walk-up orders');
let tb: TestBroker;
let agent: Agent;

t.before(async () => {
  // Every customer here orders from 127.0.0.1: the per-address limit is tested on its own broker below.
  tb = await TestBroker.start({ jobAckTimeoutMs: 500, orders: { ...ORDER_DEFAULTS, uploadMaxBytes: 600 * 1024, ordersPerHour: 50 } });
  agent = await tb.agent(`op${process.pid}`);
});
t.after(async () => {
  await end(agent.client);
  await tb.stop();
});

const base = (): string => tb.broker.httpUrl;

async function counts(): Promise<{ sessions: number; orders: number; jobs: number; designs: number }> {
  const n = async (table: 'customer_sessions' | 'orders' | 'designs'): Promise<number> =>
    (
      await tb.ctx.db
        .selectFrom(table)
        .select(({ fn }) => fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
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
  const photo = await sharp(await noisyImage(500, 700, 'jpeg'))
    .withExif({ IFD0: { Copyright: 'secret-owner-name' } })
    .jpeg()
    .toBuffer();
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
  const bState = await waitUntil(
    async () => {
      const s = (await customerApi(base(), b, 'GET', `/api/orders/${b.session}`)).body;
      return s.orders[0]?.position === 1 ? s : undefined;
    },
    10_000,
    'the second order at position 1',
  );
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
  // The ended order's retained message is gone (its ending came live); the printing one's is there.
  assert.equal(await retainedOn(tb, orderTopic(first.body.order)), []);
  assert.is(JSON.parse((await retainedOn(tb, orderTopic(second.body.order)))[0]!).position, 0);
  await m.device.ack({ job: second.body.order, state: 'done' });
  await waitUntil(() => bLog.some((r) => (r.json as any)?.state === 'done'), 10_000, 'done on the second order topic');
  assert.equal(await retainedOn(tb, orderTopic(second.body.order)), []);
  await end(aClient);
  await end(bClient);
  await m.device.close();
});

t('attacks are refused with their own error and change nothing', async () => {
  const m1 = await orderMachine(tb, agent, { mode: 'hold' });
  const m2 = await orderMachine(tb, agent, { mode: 'hold' });
  const a = await openCustomer(base(), orderLabel(tb, m1.code));
  const b = await openCustomer(base(), orderLabel(tb, m2.code));
  // Only the token's hash is stored: a copy of the registry opens no session.
  const row = await tb.ctx.db.selectFrom('customer_sessions').selectAll().where('id', '=', a.session).executeTakeFirstOrThrow();
  assert.is(row.token_hash, tokenHash(a.token));
  assert.not.ok(JSON.stringify(row).includes(a.token), 'the token itself is not stored');
  const design = await designFor(a);
  const placed = await order(base(), a, { design });
  assert.is(placed.status, 201);
  const before = await counts();

  const refusals: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ["a's token on b's session", () => customerApi(base(), a, 'GET', `/api/orders/${b.session}`), 403, 'FORBIDDEN'],
    ["a's token ordering on another machine", () => order(base(), a, { design, machine: m2.code }), 403, 'WRONG_MACHINE'],
    ["b ordering a's design", () => order(base(), b, { design }), 404, 'NOT_FOUND'],
    [
      'a claim label URL as an order label',
      () => tb.api('POST', '/api/orders/sessions', { label: `https://x.example${claimLabel(tb, m1.code)}` }, undefined),
      400,
      'WRONG_LABEL',
    ],
    [
      'a claim label as an order label',
      () => tb.api('POST', '/api/orders/sessions', { label: claimLabel(tb, m1.code).slice(3) }, undefined),
      400,
      'WRONG_LABEL',
    ],
    ['a forged order label', () => tb.api('POST', '/api/orders/sessions', { label: `/o/${m1.code}.0123456789abcdef` }, undefined), 404, 'UNKNOWN_MACHINE'],
    ["b cancelling a's order", () => customerApi(base(), b, 'POST', `/api/orders/${b.session}/orders/${placed.body.order}/cancel`), 404, 'NOT_FOUND'],
    ['no token', () => tb.api('GET', `/api/orders/${a.session}`, undefined, undefined), 401, 'UNAUTHORIZED'],
    ["an agent's token as a customer's", () => tb.api('GET', `/api/orders/${a.session}`, undefined, agent.token), 401, 'UNAUTHORIZED'],
    [
      'a polyglot: a PNG header on an HTML body',
      () =>
        upload(
          base(),
          a,
          Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('<html><script>alert(1)</script></html>')]),
        ),
      415,
      'BAD_IMAGE',
    ],
    ['HTML named .png', () => upload(base(), a, Buffer.from('<html><body>hi</body></html>'), 'x.png', 'image/png'), 415, 'BAD_IMAGE'],
    ['a truncated PNG', async () => upload(base(), a, (await noisyImage(200, 200)).subarray(0, 5000)), 415, 'BAD_IMAGE'],
    ['an oversize upload', async () => upload(base(), a, await noisyImage(500, 500)), 413, 'TOO_LARGE'],
    [
      'a pixel bomb',
      async () =>
        upload(
          base(),
          a,
          await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#000' } })
            .png({ compressionLevel: 9 })
            .toBuffer(),
        ),
      422,
      'IMAGE_BOMB',
    ],
    [
      'a ratio bomb',
      async () =>
        upload(
          base(),
          a,
          await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#fff' } })
            .webp({ lossless: true })
            .toBuffer(),
          'flat.webp',
          'image/webp',
        ),
      422,
      'IMAGE_BOMB',
    ],
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
  assert.is(
    (await tb.api('POST', `/api/devices/${m2.device.id}/order-settings`, { enabled: false }, agent.token)).body.error.code,
    'FORBIDDEN',
    'only admins open machines to orders',
  );
  await m1.device.close();
  await m2.device.close();
});

/** The RGB of one pixel of an encoded image. */
async function pixel(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

const near = (got: [number, number, number], want: [number, number, number], what: string): void =>
  assert.ok(
    got.every((v, i) => Math.abs(v - want[i]!) < 40),
    `${what}: ${got.join(',')} is not near ${want.join(',')}`,
  );

t('a phone JPEG with EXIF orientation 6 is printed upright, and none of its metadata survives', async () => {
  // Stored sideways, as a phone camera does: red on the left, blue on the right, and EXIF saying
  // "turn 90° clockwise to view", which puts red on top. The copyright tag stands for the GPS
  // position and camera serial a real photo carries.
  const [w, h] = [200, 100];
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 230;
  const marker = `exif-marker-${process.pid}`;
  const photo = await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .jpeg()
    .withExif({ IFD0: { Copyright: marker } })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const before = await sharp(photo).metadata();
  assert.equal([before.orientation, before.width, before.height], [6, w, h], 'the fixture is a sideways JPEG with orientation 6');
  assert.ok(photo.includes(marker));

  const m = await orderMachine(tb, agent);
  const c = await openCustomer(base(), orderLabel(tb, m.code));
  const r = await upload(base(), c, photo, 'IMG_0001.jpg', 'image/jpeg');
  assert.is(r.status, 201, JSON.stringify(r.body));
  const read = async (sha: string): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const part of await tb.ctx.blobs.read(sha)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  };
  const design = await read(r.body.design);
  const thumb = await read((await tb.ctx.db.selectFrom('designs').select('thumb').where('sha256', '=', r.body.design).executeTakeFirstOrThrow()).thumb);
  for (const [name, img] of [
    ['design', design],
    ['thumbnail', thumb],
  ] as const) {
    const meta = await sharp(img).metadata();
    assert.is(meta.format, 'png', name);
    assert.equal([meta.exif, meta.xmp, meta.iptc, meta.icc, meta.orientation], [undefined, undefined, undefined, undefined, undefined], `${name}: no metadata`);
    assert.not.ok(img.includes(marker), `${name}: the EXIF text is gone from the bytes`);
  }
  assert.is((await sharp(design).metadata()).density, 300, 'the print keeps its DPI (in pHYs)');
  // Upright: 100×200 fitted to 886×1890 is 886×1772, red above blue, white bands above and below.
  assert.equal([r.body.width, r.body.height], [886, 1890]);
  near(await pixel(design, 443, 400), [230, 0, 0], 'upper half');
  near(await pixel(design, 443, 1500), [0, 0, 230], 'lower half');
  near(await pixel(design, 443, 20), [255, 255, 255], 'band above');
  near(await pixel(design, 20, 945 - 200), [230, 0, 0], 'left edge, upper half (sideways it would be white)');
  const tm = await sharp(thumb).metadata();
  near(await pixel(thumb, Math.floor(tm.width! / 2), Math.floor(tm.height! / 4)), [230, 0, 0], 'thumbnail upper half');
  near(await pixel(thumb, Math.floor(tm.width! / 2), Math.floor((tm.height! * 3) / 4)), [0, 0, 230], 'thumbnail lower half');
  const metrics = (await tb.api<string>('GET', '/metrics')).body;
  assert.ok(metric(metrics, 'fleetbind_design_processing_seconds_count') >= 1, 'the processing time is measured');
  assert.ok(metric(metrics, 'fleetbind_design_processing_seconds', { quantile: '0.99' }) > 0);
  await m.device.close();
});

t('the operator moves a waiting order to the front: positions change live, the machine prints it next, the move is audited; nobody else may', async () => {
  const m = await orderMachine(tb, agent, { mode: 'hold' });
  const placed: { c: Customer; order: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await openCustomer(base(), orderLabel(tb, m.code));
    const r = await order(base(), c, { design: await designFor(c) });
    assert.is(r.status, 201, JSON.stringify(r.body));
    placed.push({ c, order: r.body.order });
  }
  await waitUntil(() => m.device.isRunning(placed[0]!.order), 10_000, 'the first order printing');
  const last = placed[3]!;
  const live = await connectCustomer(tb.broker.wsUrl, last.c);
  const log = recorder(live);
  assert.equal(await subscribe(live, orderTopic(last.order)), [0]);

  // Refused, changing nothing: a customer's token, another agent, a place past the queue, a printing order.
  const other = await tb.agent(`other${process.pid}`);
  const move = (token: string | undefined, id: string, position: unknown) => tb.api('POST', `/api/machine-orders/${id}/move`, { position }, token);
  assert.is((await move(last.c.token, last.order, 1)).status, 401);
  assert.is((await move(other.token, last.order, 1)).body.error.code, 'NOT_FOUND');
  assert.equal((await move(agent.token, last.order, 4)).body.error, {
    code: 'BAD_REQUEST',
    message: 'position is a whole number from 1 to 3 (the waiting jobs on this machine)',
    field: 'position',
  });
  assert.is((await move(agent.token, placed[0]!.order, 1)).body.error.code, 'CONFLICT');
  const positions = async (): Promise<number[]> => {
    const all = await tb.api('GET', `/api/machine-orders?device=${m.device.id}`, undefined, agent.token);
    return placed.map((p) => all.body.find((o: any) => o.order === p.order).position);
  };
  assert.equal(await positions(), [0, 1, 2, 3]);

  const moved = await move(agent.token, last.order, 1);
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(await positions(), [0, 2, 3, 1]);
  await waitUntil(() => log.some((r) => (r.json as any)?.position === 1), 10_000, 'position 1 live on the moved order topic');
  const audit = await tb.ctx.db.selectFrom('audit').selectAll().where('action', '=', 'job.move').where('device', '=', m.device.id).execute();
  assert.equal(
    audit.map((a) => [a.actor, JSON.parse(a.detail as string)]),
    [[`agent:${agent.id}`, { job: last.order, from: 3, to: 1 }]],
  );
  await m.device.ack({ job: placed[0]!.order, state: 'done' });
  await waitUntil(() => m.device.isRunning(last.order), 10_000, 'the moved order printing next');
  await end(live, other.client);
  await m.device.close();
});

t('a customer cancels its own waiting order, not a printing one; the operator cancels a printing one, audited', async () => {
  const m = await orderMachine(tb, agent, { mode: 'hold' });
  const c = await openCustomer(base(), orderLabel(tb, m.code));
  const printing = (await order(base(), c, { design: await designFor(c) })).body.order as string;
  const waiting = (await order(base(), c, { design: await designFor(c) })).body.order as string;
  await waitUntil(() => m.device.isRunning(printing), 10_000, 'the first order printing');
  const cancel = (id: string) => customerApi(base(), c, 'POST', `/api/orders/${c.session}/orders/${id}/cancel`);
  const states = async (): Promise<Record<string, string>> =>
    Object.fromEntries((await customerApi(base(), c, 'GET', `/api/orders/${c.session}`)).body.orders.map((o: any) => [o.order, o.state]));

  const refused = await cancel(printing);
  assert.is(refused.status, 409, JSON.stringify(refused.body));
  assert.is(refused.body.error.code, 'CONFLICT');
  assert.ok(m.device.isRunning(printing), 'the printing order runs on');
  const withdrawn = await cancel(waiting);
  assert.is(withdrawn.status, 200, JSON.stringify(withdrawn.body));
  assert.is(withdrawn.body.state, 'cancelled');
  const after = await states();
  assert.is(after[waiting], 'cancelled');
  assert.ok(['dispatched', 'running'].includes(after[printing]!), `the printing order is untouched (${after[printing]})`);

  const byOperator = await tb.api('POST', `/api/machine-orders/${printing}/cancel`, {}, agent.token);
  assert.is(byOperator.status, 200, JSON.stringify(byOperator.body));
  await waitUntil(async () => (await states())[printing] === 'cancelled' || undefined, 10_000, 'the printing order cancelled by the operator');
  const audit = await tb.ctx.db.selectFrom('audit').selectAll().where('action', '=', 'order.cancel').where('device', '=', m.device.id).execute();
  assert.equal(
    audit.map((a) => [a.actor, JSON.parse(a.detail as string)]),
    [[`agent:${agent.id}`, { order: printing, session: c.session }]],
    "the operator's cancel is audited, the customer's own withdrawal is not an operator action",
  );
  await m.device.close();
});

t('an order placed while its machine is offline waits, prints once it is back, and the operator exports it like any job', async () => {
  const m = await orderMachine(tb, agent, { mode: 'run', durationMs: 20 });
  const c = await openCustomer(base(), orderLabel(tb, m.code));
  const design = await designFor(c);
  await m.device.drop();
  await waitUntil(() => !tb.ctx.presence.isOnline(m.device.id), 10_000, 'the machine seen offline');
  const placed = await order(base(), c, { design });
  assert.is(placed.status, 201, JSON.stringify(placed.body));
  const id = placed.body.order as string;
  assert.is(placed.body.state, 'queued');
  const mine = async (): Promise<any> => (await customerApi(base(), c, 'GET', `/api/orders/${c.session}`)).body.orders.find((o: any) => o.order === id);
  // Nothing reaches the machine while it is away; the order keeps its place.
  assert.is((await mine()).state, 'queued');
  assert.is((await mine()).position, 1);
  assert.not.ok(
    m.device.cmds.some((cmd) => cmd.job === id),
    'no print sent to the offline machine',
  );
  await m.device.reconnect();
  await waitUntil(async () => (await mine()).state === 'done' || undefined, 20_000, 'the order printed after the machine came back');
  assert.equal(
    m.device.runs.filter((j) => j === id),
    [id],
    'printed once',
  );
  const exported = await tb.api('GET', `/api/jobs/${id}/export?format=json`, undefined, agent.token);
  assert.is(exported.status, 200, JSON.stringify(exported.body));
  assert.is(exported.body.job.kind, 'print');
  assert.is(exported.body.job.state, 'done');
  assert.equal(
    exported.body.history.map((h: any) => h.event),
    ['queued', 'dispatched', 'running', 'done'],
  );
  const csv = await fetch(`${base()}/api/jobs/${id}/export?format=csv`, { headers: { authorization: `Bearer ${agent.token}` } });
  assert.is(csv.status, 200);
  assert.ok((await csv.text()).includes(id), "the CSV names the order's job");
  const byCustomer = await fetch(`${base()}/api/jobs/${id}/export?format=json`, { headers: { authorization: `Bearer ${c.token}` } });
  assert.is(byCustomer.status, 401, "a customer's session token is not an agent's");
  await m.device.close();
});

t('the N+1th order in the hour is answered 429 with Retry-After, per session and per address; so is the N+1th upload', async () => {
  const limited = await TestBroker.start({ orders: { ...ORDER_DEFAULTS, ordersPerHour: 2, uploadsPerHour: 3 } });
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
    // Per address too: a fresh session from the same address has no orders left this hour.
    const other = await openCustomer(limited.broker.httpUrl, orderLabel(limited, m.code));
    const fromSameAddress = await order(limited.broker.httpUrl, other, {
      design: (await upload(limited.broker.httpUrl, other, await noisyImage(100, 100))).body.design,
    });
    assert.is(fromSameAddress.status, 429, JSON.stringify(fromSameAddress.body));
    assert.ok(Number(fromSameAddress.headers.get('retry-after')) > 0);
    assert.equal(
      (await customerApi(limited.broker.httpUrl, other, 'GET', `/api/orders/${other.session}`)).body.orders,
      [],
      'nothing placed for the new session',
    );
    // Uploads have their own count: the third of this hour passes, the fourth is 429.
    assert.is((await upload(limited.broker.httpUrl, c, await noisyImage(100, 100))).status, 201);
    const fourth = await upload(limited.broker.httpUrl, c, await noisyImage(100, 100));
    assert.is(fourth.status, 429, JSON.stringify(fourth.body));
    assert.match(fourth.body.error.message, /^at most 3 uploads an hour/);
    assert.ok(Number(fourth.headers.get('retry-after')) > 0);
    await m.device.close();
    await end(op.client);
  } finally {
    await limited.stop();
  }
});

t("a session's hour is its own across addresses, and wrong tokens sent with its id use up none of it", async () => {
  const limited = await TestBroker.start({ trustProxy: true, orders: { ...ORDER_DEFAULTS, ordersPerHour: 2 } });
  try {
    const url = limited.broker.httpUrl;
    const op = await limited.agent(`rt${process.pid}`);
    const m = await orderMachine(limited, op, { mode: 'hold' });
    const c = await openCustomer(url, orderLabel(limited, m.code));
    const design = (await upload(url, c, await noisyImage(100, 100))).body.design as string;
    const post = (from: string, token: string): Promise<Response> =>
      fetch(`${url}/api/orders/${c.session}/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-forwarded-for': from },
        body: JSON.stringify({ design }),
      });
    // Another address that knows the session id (its MQTT username) but not its token: as many
    // tries as its own address is allowed, enough to use up the session's hour were they counted.
    for (let i = 0; i < 2; i++) assert.is((await post('203.0.113.9', `wrong-${i}`)).status, 401);
    // The customer moves between networks: each address has orders left, the session does not.
    for (const from of ['198.51.100.1', '198.51.100.2']) {
      const placed = await post(from, c.token);
      assert.is(placed.status, 201, `an order from ${from}: ${await placed.text()}`);
    }
    const third = await post('198.51.100.3', c.token);
    const body = (await third.json()) as { error: { message: string } };
    assert.is(third.status, 429, JSON.stringify(body));
    assert.match(body.error.message, /^at most 2 orders an hour/);
    assert.ok(Number(third.headers.get('retry-after')) > 0);
    await m.device.close();
    await end(op.client);
  } finally {
    await limited.stop();
  }
});

t("an order past the machine's queue cap is refused QUEUE_FULL and placed nowhere; once one ends, the next is taken", async () => {
  const capped = await TestBroker.start({ queueCap: 2, orders: { ...ORDER_DEFAULTS, ordersPerHour: 50 } });
  try {
    const url = capped.broker.httpUrl;
    const op = await capped.agent(`cap${process.pid}`);
    const m = await orderMachine(capped, op, { mode: 'hold' });
    const c = await openCustomer(url, orderLabel(capped, m.code));
    const design = (await upload(url, c, await noisyImage(100, 100))).body.design as string;
    const placed = [(await order(url, c, { design })).body.order as string, (await order(url, c, { design })).body.order as string];
    const full = await order(url, c, { design });
    assert.is(full.status, 409, JSON.stringify(full.body));
    assert.is(full.body.error.code, 'QUEUE_FULL');
    const mine = async (): Promise<string[]> => (await customerApi(url, c, 'GET', `/api/orders/${c.session}`)).body.orders.map((o: any) => o.order);
    assert.equal(await mine(), placed, 'the refused order was placed nowhere');
    await waitUntil(() => m.device.isRunning(placed[0]!), 10_000, 'the first order printing');
    await m.device.ack({ job: placed[0]!, state: 'done' });
    await waitUntil(
      async () => (await customerApi(url, c, 'GET', `/api/orders/${c.session}`)).body.orders[0].state === 'done' || undefined,
      10_000,
      'the first order done',
    );
    const next = await order(url, c, { design });
    assert.is(next.status, 201, JSON.stringify(next.body));
    await m.device.close();
    await end(op.client);
  } finally {
    await capped.stop();
  }
});

t('an upload past the bytes an hour of its session, machine or address is 429, and the refusal uses up nothing', async () => {
  const file = await noisyImage(120, 120);
  const F = file.length;
  // Two uploads per session, four per machine, five from one address (every customer here is 127.0.0.1).
  const limited = await TestBroker.start({ orders: { ...ORDER_DEFAULTS, uploadBytesPerHour: { session: 2.5 * F, machine: 4.5 * F, address: 5.5 * F } } });
  try {
    const op = await limited.agent(`bytes${process.pid}`);
    const [m1, m2] = [await orderMachine(limited, op, { mode: 'hold' }), await orderMachine(limited, op, { mode: 'hold' })];
    const url = limited.broker.httpUrl;
    const customer = (m: typeof m1): Promise<Customer> => openCustomer(url, orderLabel(limited, m.code));
    const designs = async (c: Customer): Promise<number> =>
      Number(
        (
          await limited.ctx.db
            .selectFrom('session_designs')
            .select(({ fn }) => fn.countAll<number>().as('n'))
            .where('session', '=', c.session)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const ok = async (c: Customer): Promise<void> => {
      const r = await upload(url, c, file);
      assert.is(r.status, 201, JSON.stringify(r.body));
    };
    const refused = async (c: Customer, scope: string): Promise<void> => {
      const before = await designs(c);
      const r = await upload(url, c, file);
      assert.is(r.status, 429, JSON.stringify(r.body));
      assert.is(r.body.error.code, 'RATE_LIMITED');
      assert.is(r.body.error.field, 'file');
      assert.match(r.body.error.message, new RegExp(`bytes an hour per ${scope};`));
      const wait = Number(r.headers.get('retry-after'));
      assert.ok(wait > 3000 && wait <= 3600, `Retry-After: ${wait}`);
      assert.is(await designs(c), before, 'nothing stored');
    };

    const a = await customer(m1);
    await ok(a);
    await ok(a);
    await refused(a, 'session');
    const b = await customer(m1);
    await ok(b);
    // A's refusal counted nothing against the machine: B's second upload is the machine's fourth.
    await ok(b);
    await refused(await customer(m1), 'machine');
    const d = await customer(m2);
    await ok(d);
    await refused(d, 'address');
    for (const m of [m1, m2]) await m.device.close();
    await end(op.client);
  } finally {
    await limited.stop();
  }
});

t.run();
