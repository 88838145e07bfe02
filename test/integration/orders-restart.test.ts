// Walk-up orders across a crash of the broker process (SIGKILL, restarted on the same data dir and
// ports). Killed while a design is uploading: no partial blob is ever there to serve (every blob
// file hashes to its name, tmp/ is swept), no design or order half-exists, and the customer's
// session still works to upload again and order. Killed while the device fetches that order's
// design by Range: the simulated device waits the broker out, resumes the fetch where it broke,
// the print goes back to it under the same job id, and the printer's sha256 matches: done.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type AddressInfo, type Server, type Socket, connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pino from 'pino';
import * as assert from 'uvu/assert';
import { orderLabelSignature } from '../../broker/orders/labels';
import { PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
import { SimDevice } from '../../host-tools/simulate/device';
import { MemoryPrefs } from '../../host-tools/simulate/sim-prefs';
import { PRINTER_DEFAULTS } from '../../host-tools/simulate/sim-printer';
import { connectAgent, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { end } from '../helpers/mqtt';
import { type Customer, customerApi, noisyImage, openCustomer, order, upload } from '../helpers/orders';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const ADMIN = randomBytes(24).toString('hex');
const CODE = `KILL${process.pid}`;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Rig {
  dir: string;
  bp: BrokerProcess | null;
  proxy: ThrottlingProxy | null;
  device: SimDevice | null;
  customer: Customer | null;
  design: string;
  flags: string[];
}

const t = suite<Rig>('walk-up orders: broker killed mid-upload and mid-fetch', {
  dir: '',
  bp: null,
  proxy: null,
  device: null,
  customer: null,
  design: '',
  flags: [],
});

/**
 * The device's way to the broker's HTTP port: blob responses are let through slowly, so a kill
 * lands inside a fetch. `onBlobBytes` hears the running total of blob bytes passed on.
 */
interface ThrottlingProxy {
  server: Server;
  port: number;
  target: number;
  ranges: string[];
  blobBytes: number;
  bytesPerTick: number;
  onBlobBytes: (total: number) => void;
}

function throttlingProxy(bytesPerTick: number, tickMs: number): Promise<ThrottlingProxy> {
  const p: ThrottlingProxy = { server: null as unknown as Server, port: 0, target: 0, ranges: [], blobBytes: 0, bytesPerTick, onBlobBytes: () => {} };
  p.server = createServer((client: Socket) => {
    const up = tcpConnect(p.target, '127.0.0.1');
    let blob = false;
    let backlog = Buffer.alloc(0);
    let timer: NodeJS.Timeout | null = null;
    const close = (): void => {
      if (timer) clearInterval(timer);
      client.destroy();
      up.destroy();
    };
    const drip = (): void => {
      const part = backlog.subarray(0, p.bytesPerTick);
      backlog = backlog.subarray(part.length);
      if (part.length > 0) {
        client.write(part);
        p.blobBytes += part.length;
        p.onBlobBytes(p.blobBytes);
      }
    };
    client.on('data', (d) => {
      const text = d.toString('latin1');
      if (text.startsWith('GET /api/blobs/')) {
        blob = true;
        p.ranges.push(/\r\nrange: *([^\r]*)/i.exec(text)?.[1] ?? '');
        timer ??= setInterval(drip, tickMs);
      }
      up.write(d);
    });
    up.on('data', (d) => {
      if (blob) backlog = Buffer.concat([backlog, d]);
      else client.write(d);
    });
    // A broker that dies mid-response: what was still on its way is lost with it.
    up.on('close', close);
    up.on('error', () => undefined);
    client.on('error', close).on('close', close);
  });
  return new Promise((resolve) =>
    p.server.listen(0, '127.0.0.1', () => {
      p.port = (p.server.address() as AddressInfo).port;
      resolve(p);
    }),
  );
}

/** Starts the broker on the rig's data dir; after the first start, on the same ports. */
async function start(c: Rig): Promise<BrokerProcess> {
  c.bp = await BrokerProcess.start(c.dir, ADMIN, c.flags);
  if (c.flags.length === 2) {
    c.flags.push('--mqtt-port', new URL(c.bp.mqttUrl).port, '--http-port', new URL(c.bp.httpUrl).port);
    c.proxy!.target = Number(new URL(c.bp.httpUrl).port);
  }
  return c.bp;
}

/** The registry as the broker left it, read from its SQLite file. */
function registry(c: Rig): { designs: { sha256: string; thumb: string }[]; sessionDesigns: number; orders: number; jobs: number; labelKey: string } {
  const db = new SQLite(join(c.dir, 'fleetbind.db'), { readonly: true });
  try {
    return {
      designs: db.prepare('select sha256, thumb from designs').all() as { sha256: string; thumb: string }[],
      sessionDesigns: (db.prepare('select count(*) as n from session_designs').get() as { n: number }).n,
      orders: (db.prepare('select count(*) as n from orders').get() as { n: number }).n,
      jobs: (db.prepare("select count(*) as n from jobs where kind = 'print'").get() as { n: number }).n,
      labelKey: (db.prepare("select value from kv where key = 'label_key'").get() as { value: string }).value,
    };
  } finally {
    db.close();
  }
}

/** A directory's entries; none when it was never made (nothing reached the blob store yet). */
function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Every blob file under the data dir, checked to hold exactly the bytes its name promises. */
function blobFiles(c: Rig): string[] {
  const root = join(c.dir, 'blobs');
  const names: string[] = [];
  for (const d of entries(root)) {
    if (d === 'tmp') continue;
    for (const f of readdirSync(join(root, d))) {
      assert.is(sha(readFileSync(join(root, d, f))), f, `blob ${f} holds other bytes than its name`);
      names.push(f);
    }
  }
  return names;
}

/** A multipart upload written by hand, so the test decides how much of it the broker gets. */
function multipart(file: Buffer): { body: Buffer; type: string } {
  const boundary = `----fleetbind${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="design.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`);
  return { body: Buffer.concat([head, file, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

/**
 * Sends the first `sendBytes` of an upload, then kills the broker once `killWhen` resolves.
 * Resolves with what the client saw: cut off, or (when the broker was quicker) its answer.
 */
async function uploadKilled(c: Rig, file: Buffer, sendBytes: number, killWhen: (sent: Promise<void>) => Promise<void>): Promise<string> {
  const { body, type } = multipart(file);
  const u = new URL(c.bp!.httpUrl);
  const answered = new Promise<string>((resolve) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path: `/api/orders/${c.customer!.session}/designs`,
        headers: { authorization: `Bearer ${c.customer!.token}`, 'content-type': type, 'content-length': body.length },
      },
      (res) => resolve(`answered ${res.statusCode}`),
    );
    req.on('error', (err) => resolve(`cut: ${err.message}`));
    const sent = new Promise<void>((done) => req.write(body.subarray(0, sendBytes), () => done()));
    if (sendBytes >= body.length) req.end();
    void killWhen(sent).then(async () => {
      const exit = await c.bp!.stop('SIGKILL');
      assert.is(exit.signal, 'SIGKILL');
    });
  });
  return answered;
}

/** After a restart: nothing half-made is visible, and the customer's session has nothing new. */
async function checkNothingHalfMade(c: Rig, before: { designs: number; blobs: number }): Promise<{ designs: number; blobs: number }> {
  const bp = await start(c);
  assert.equal(entries(join(c.dir, 'blobs', 'tmp')), [], 'the interrupted upload left nothing in tmp after the start-up sweep');
  const blobs = blobFiles(c);
  const reg = registry(c);
  assert.is(reg.orders, 0, 'no order');
  assert.is(reg.jobs, 0, 'no print job');
  // A design row exists only with both its blobs whole on disk.
  for (const d of reg.designs) assert.ok(blobs.includes(d.sha256) && blobs.includes(d.thumb), `design ${d.sha256} lacks a blob`);
  assert.ok(reg.designs.length === before.designs || reg.designs.length === before.designs + 1);
  // The design and its thumbnail are two puts: a kill between them leaves one whole blob unnamed.
  assert.ok(blobs.length >= before.blobs && blobs.length <= before.blobs + 2, `blobs ${before.blobs} → ${blobs.length}`);
  const state = await customerApi(bp.httpUrl, c.customer!, 'GET', `/api/orders/${c.customer!.session}`);
  assert.is(state.status, 200, 'the session outlived the crash');
  assert.equal(state.body.orders, []);
  return { designs: reg.designs.length, blobs: blobs.length };
}

t.before(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-orders-restart-'));
  // About 100 KiB/s until the kill, so the kill lands inside the fetch.
  c.proxy = await throttlingProxy(4096, 40);
  c.flags = ['--public-url', `http://127.0.0.1:${c.proxy.port}`];
});

t.after(async (c) => {
  c.device?.core.stop();
  await c.bp?.kill();
  c.proxy?.server.close();
  rmSync(c.dir, { recursive: true, force: true });
});

t('SIGKILL during an upload: no partial blob, no half order, and the customer retries', async (c) => {
  const bp = await start(c);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  assert.is((await bp.api('POST', '/api/agents', { id: 'shop', name: 'Shop', password })).status, 201);
  const login = await bp.api('POST', '/api/login', { id: 'shop', password }, undefined);
  const agent = await connectAgent(bp.mqttUrl, 'shop', login.body.token);
  const mac = randomMac();
  const dev = await bp.api('POST', '/api/devices', { mac, machineCode: CODE, model: 'test-board' });
  assert.is(dev.status, 201);
  c.device = new SimDevice({
    label: CODE,
    mac,
    fw: '1.0.0',
    prefs: new MemoryPrefs({ ssid: 'lab', broker: bp.mqttUrl, insecure: '1', id: dev.body.id, secret: dev.body.secret }),
    log: pino({ level: 'silent' }),
    associateMs: () => 5,
    printer: { ...PRINTER_DEFAULTS, jamProbability: 0 },
  });
  c.device.start();
  await waitUntil(
    () => c.device!.state === 'ready',
    30_000,
    () => `device ready (state ${c.device!.state})`,
  );
  assert.ok((await request(agent, { kind: 'agent', id: 'shop' }, { op: 'claim', target: dev.body.id })).ok);
  await end(agent);
  assert.is((await bp.api('POST', `/api/devices/${dev.body.id}/order-settings`, { enabled: true })).status, 200);
  c.customer = await openCustomer(bp.httpUrl, `/o/${CODE}.${orderLabelSignature(registry(c).labelKey, CODE)}`);

  // Large enough to take a while to receive and to process.
  const file = await noisyImage(1800, 2400, 'jpeg');
  const { body } = multipart(file);
  // Half the body has arrived when the broker dies.
  assert.match(await uploadKilled(c, file, Math.floor(body.length / 2), (sent) => sent), /^cut: /);
  const after = await checkNothingHalfMade(c, { designs: 0, blobs: 0 });
  assert.equal(after, { designs: 0, blobs: 0 });
  // The whole body has arrived and the broker is decoding, re-encoding or storing it (or, on a
  // quick day, has just answered).
  const seen = await uploadKilled(c, file, body.length, async (sent) => {
    await sent;
    await new Promise((r) => setTimeout(r, 150));
  });
  assert.match(seen, /^(cut: |answered 201)/);
  await checkNothingHalfMade(c, after);

  const retried = await upload(c.bp!.httpUrl, c.customer, file, 'design.jpg', 'image/jpeg');
  assert.is(retried.status, 201, JSON.stringify(retried.body));
  assert.ok(blobFiles(c).includes(retried.body.design));
  assert.ok(retried.body.size > 2 * PRINT_WINDOW_BYTES, `the design (${retried.body.size} bytes) spans several windows`);
  c.design = retried.body.design;
});

t('SIGKILL during the device fetch: the device resumes after the restart and the sha256 matches', async (c) => {
  const s = c.customer!;
  // Killed once the second window is half through the proxy: the first came whole. From then on
  // the proxy stops throttling, so the rest of the design comes at full speed.
  const killAt = PRINT_WINDOW_BYTES + PRINT_WINDOW_BYTES / 2;
  const killed = new Promise<void>((resolve) => {
    c.proxy!.onBlobBytes = (total) => {
      if (total < killAt) return;
      c.proxy!.onBlobBytes = () => {};
      void c.bp!.stop('SIGKILL').then(() => {
        c.proxy!.bytesPerTick = 1 << 30;
        resolve();
      });
    };
  });
  const placed = (await order(c.bp!.httpUrl, s, { design: c.design })).body;
  assert.ok(placed.order, JSON.stringify(placed));
  await killed;
  const rangesAtKill = c.proxy!.ranges.length;
  assert.ok(c.device!.printer!.design.printed.length === 0, 'nothing printed before the kill');
  // Down for a few seconds: the device's fetch retries meet a closed port.
  await new Promise((r) => setTimeout(r, 3000));
  const bp = await start(c);

  await waitUntil(
    async () => (await customerApi(bp.httpUrl, s, 'GET', `/api/orders/${s.session}`)).body.orders[0]?.state === 'done',
    120_000,
    () => `order done; printer saw ${JSON.stringify(c.device!.printer!.design.printed)}`,
  );
  const printed = c.device!.printer!.design.printed;
  assert.equal(printed, [{ sha256: c.design, bytes: printed[0]!.bytes, copies: 1, ok: true }], 'printed once, whole, with the right hash');
  // The window that broke was asked for again from inside, not from its start.
  const resumed = c
    .proxy!.ranges.slice(rangesAtKill)
    .map((r) => /^bytes=(\d+)-(\d+)$/.exec(r))
    .find((m) => m !== null && Number(m[1]) > PRINT_WINDOW_BYTES);
  assert.ok(resumed && Number(resumed[1]) < 2 * PRINT_WINDOW_BYTES, `resumed inside the second window: ${c.proxy!.ranges.slice(0, 12).join(' | ')}`);
  assert.is(placed.order, (await customerApi(bp.httpUrl, s, 'GET', `/api/orders/${s.session}`)).body.orders[0].order);
});

t.run();
