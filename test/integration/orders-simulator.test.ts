// A walk-up order end to end with the simulated device (the same firmware core) and its printer:
// upload → order → the device fetches the design by its signed URL through a proxy that cuts the
// first blob response part way → the core resumes with Range → streams it to the printer, which
// checks the sha256 → done, seen live on the customer's order topic.
import { createServer, connect as tcpConnect, type Server, type AddressInfo } from 'node:net';
import pino from 'pino';
import * as assert from 'uvu/assert';
import { SimDevice } from '../../host-tools/simulate/device';
import { MemoryPrefs } from '../../host-tools/simulate/sim-prefs';
import { PRINTER_DEFAULTS } from '../../host-tools/simulate/sim-printer';
import { PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
import { orderTopic } from '../../protocol/topics';
import { TestBroker } from '../helpers/broker';
import { claim } from '../helpers/jobs';
import { end, recorder, subscribe } from '../helpers/mqtt';
import { connectCustomer, customerApi, noisyImage, openCustomer, order, orderLabel, upload } from '../helpers/orders';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite('walk-up order through the simulator');

/** Forwards HTTP to the broker; the first blob response is cut after `cutAfter` bytes. Records each blob request's Range. */
function cuttingProxy(target: number, cutAfter: number): Promise<{ server: Server; port: number; ranges: string[] }> {
  const ranges: string[] = [];
  let cut = false;
  const server = createServer((client) => {
    const up = tcpConnect(target, '127.0.0.1');
    let armed = false;
    let sent = 0;
    client.on('data', (d) => {
      const text = d.toString('latin1');
      if (text.startsWith('GET /api/blobs/')) {
        ranges.push(/\r\nrange: *([^\r]*)/i.exec(text)?.[1] ?? '');
        if (!cut) armed = cut = true;
      }
      up.write(d);
    });
    up.on('data', (d) => {
      if (armed && sent + d.length > cutAfter) {
        // The part before the cut reaches the device, then the connection drops.
        const part = d.subarray(0, Math.max(0, cutAfter - sent));
        armed = false;
        up.destroy();
        client.write(part, () => client.destroy());
        return;
      }
      if (armed) sent += d.length;
      client.write(d);
    });
    const close = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('error', close).on('close', close);
    up.on('error', close).on('close', close);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, ranges })));
}

t('upload → order → fetch cut once and resumed with Range → printer sha256 matches → done live', async () => {
  // The broker's HTTP port is known only after it starts; the proxy forwards to it and is the URL devices get.
  const tb = await TestBroker.start({ jobAckTimeoutMs: 2000 });
  const proxy = await cuttingProxy(tb.broker.httpPort, 6_000);
  tb.ctx.blobBaseUrl = `http://127.0.0.1:${proxy.port}`;
  let device: SimDevice | null = null;
  try {
    const agent = await tb.agent(`simop${process.pid}`);
    const code = `SIM${process.pid}`;
    const dev = await tb.provision(undefined, code);
    const port = new URL(tb.broker.mqttUrl).port;
    device = new SimDevice({
      label: code,
      mac: dev.mac,
      fw: '1.0.0',
      prefs: new MemoryPrefs({ ssid: 'lab', broker: `mqtt://127.0.0.1:${port}`, insecure: '1', id: dev.id, secret: dev.secret }),
      log: pino({ level: 'silent' }),
      associateMs: () => 5,
      printer: { ...PRINTER_DEFAULTS, jamProbability: 0 },
    });
    device.start();
    await waitUntil(
      () => device!.state === 'ready',
      20_000,
      () => `device ready (state ${device!.state})`,
    );
    await claim(agent, dev.id);
    assert.is((await tb.api('POST', `/api/devices/${dev.id}/order-settings`, { enabled: true })).status, 200);

    const c = await openCustomer(tb.broker.httpUrl, orderLabel(tb, code));
    const up = await upload(tb.broker.httpUrl, c, await noisyImage(600, 1200));
    assert.is(up.status, 201, JSON.stringify(up.body));
    assert.ok(up.body.size > 2 * PRINT_WINDOW_BYTES, `the design (${up.body.size} bytes) spans several windows`);
    const placed = await order(tb.broker.httpUrl, c, { design: up.body.design });
    assert.is(placed.status, 201, JSON.stringify(placed.body));
    const live = await connectCustomer(tb.broker.wsUrl, c);
    const log = recorder(live);
    assert.equal(await subscribe(live, orderTopic(placed.body.order)), [0]);

    await waitUntil(
      () => log.some((r) => (r.json as { state?: string })?.state === 'done'),
      60_000,
      () => `done on the order topic; saw ${log.map((r) => (r.json as { state?: string })?.state).join(',')}`,
    );
    const printed = device.printer!.design.printed;
    assert.equal(printed, [{ sha256: up.body.design, bytes: up.body.size, copies: 1, ok: true }]);
    // The first window was asked for, cut, and asked for again from where it broke.
    assert.is(proxy.ranges[0], `bytes=0-${PRINT_WINDOW_BYTES - 1}`);
    const resumed = /^bytes=(\d+)-(\d+)$/.exec(proxy.ranges[1] ?? '');
    assert.ok(
      resumed && Number(resumed[1]) > 0 && Number(resumed[1]) < PRINT_WINDOW_BYTES && Number(resumed[2]) === PRINT_WINDOW_BYTES - 1,
      `resumed range: ${proxy.ranges[1]}`,
    );
    const state = await customerApi(tb.broker.httpUrl, c, 'GET', `/api/orders/${c.session}`);
    assert.is(state.body.orders[0].state, 'done');
    await end(live);
    await end(agent.client);
  } finally {
    device?.core.stop();
    proxy.server.close();
    await tb.stop();
  }
});

t.run();
