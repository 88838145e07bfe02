// A payment QR says only what is true (docs/architecture.md, Jobs): on a simulated device (the
// real firmware core) that displays late because another job runs first, a held QR's validity
// counts from display and it ends `expired` ("not paid"), a QR whose absolute expiresAt passed
// while it waited is never shown, a QR that is not held ends `done` with `shown`, and only a
// confirmed payment makes a held QR `done`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { statusWords } from '../../protocol/job-words';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker, request } from '../helpers/broker';
import { jobIn } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { runNpmScript } from '../helpers/npm-script';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { waitUntil } from '../helpers/wait';

const t = suite('payment QR truth');
let b: TestBroker;
let fleet: SimFleet | undefined;

t.before(async () => {
  b = await TestBroker.start();
});
t.after(async () => {
  fleet?.stop();
  await b.stop();
});

t('a held QR shown late is valid from display, expires unpaid, and only a confirmed payment is done', async () => {
  fleet = startFleet(b.broker.mqttUrl, { devices: 1, enrollToken: await enrollmentToken(b, 1), machinesPrefix: 'PT-' });
  await fleet.waitFor((s) => s.connected === 1, 30_000, 'the device online');
  const device = fleet.devices[0]!;
  const agent = await b.agent('pay-truth');
  const who = { kind: 'agent' as const, id: agent.id };
  assert.ok((await request(agent.client, who, { op: 'claim', target: device.deviceId })).ok);
  const submit = async (kind: string, params: Record<string, unknown>): Promise<string> => {
    const r = await request(agent.client, who, { op: 'submit', device: device.deviceId, kind, params });
    assert.ok(r.ok, JSON.stringify(r));
    return r.result.job as string;
  };
  // When the simulated screen shows and clears each QR, as the device's own clock sees it.
  const shownAt = new Map<string, number>();
  const clearedAt: number[] = [];
  const screen = device.display;
  const showQr = screen.showQr.bind(screen);
  const clearQr = screen.clearQr.bind(screen);
  screen.showQr = (view) => {
    shownAt.set(view.text, Date.now());
    showQr(view);
  };
  screen.clearQr = () => {
    clearedAt.push(Date.now());
    clearQr();
  };
  const submittedAt = Date.now();
  // The device is busy for 3 s, so every QR behind it is displayed late.
  await submit('identify', { seconds: 3 });
  const held = await submit('qr.show', { text: 'https://pay.example/held', caption: 'Held', amount: 5, currency: 'EUR', hold: true, expiresInSeconds: 2 });
  const stale = await submit('qr.show', { text: 'https://pay.example/stale', caption: 'Stale', hold: true, expiresAt: submittedAt + 1500 });
  const plain = await submit('qr.show', { text: 'https://menu.example/', caption: 'Menu', expiresInSeconds: 1 });

  const h = await jobIn(b, held, ['done', 'failed', 'expired', 'cancelled', 'interrupted'], b.adminToken, 20_000);
  assert.is(h.state, 'expired', `the held QR ended ${h.state}: ${JSON.stringify(h.error ?? h.result)}`);
  assert.match(h.error.message, /not paid/);
  assert.is(h.result, null);
  const heldShownAt = shownAt.get('https://pay.example/held')!;
  const shownFor = clearedAt.find((t) => t >= heldShownAt)! - heldShownAt;
  assert.ok(shownFor >= 1990, `the held QR was on screen for ${shownFor} ms from display, not its 2 s`);
  assert.ok(heldShownAt - submittedAt >= 2990, 'the held QR was displayed late, after the 3 s job');
  assert.is(statusWords(h), 'Expired – not paid');
  const exported = await b.api('GET', `/api/jobs/${held}/export?format=json`, undefined, agent.token);
  assert.is(exported.body.status, 'Expired – not paid', 'the export uses the same words');
  assert.is(exported.body.what, 'Payment QR');

  const s = await jobIn(b, stale, ['done', 'failed', 'expired', 'cancelled', 'interrupted'], b.adminToken, 20_000);
  assert.is(s.state, 'expired');
  assert.match(s.error.message, /never shown/);
  assert.not.ok(
    device.display.shown.some((q) => q.view.text === 'https://pay.example/stale'),
    'a QR past its expiresAt reached the screen',
  );

  const p = await jobIn(b, plain, ['done', 'failed', 'expired', 'cancelled', 'interrupted'], b.adminToken, 20_000);
  assert.is(p.state, 'done');
  assert.equal(p.result, { shown: true });
  assert.is(statusWords(p), 'Shown');
  assert.ok(device.display.shown.some((q) => q.view.text === 'https://pay.example/held'));

  // A completion cannot make a QR that is not held "paid".
  const plain2 = await submit('qr.show', { text: 'https://menu.example/2', caption: 'Menu', expiresInSeconds: 5 });
  await jobIn(b, plain2, ['running']);
  const refused = await b.api('POST', `/api/jobs/${plain2}/complete`, undefined, agent.token);
  assert.is(refused.status, 409);

  const paid = await submit('qr.show', { text: 'https://pay.example/paid', caption: 'Paid', amount: 7, currency: 'EUR', hold: true, expiresInSeconds: 60 });
  await waitUntil(() => device.display.shown.find((q) => q.view.text === 'https://pay.example/paid'), 20_000, 'the paid QR on screen');
  const confirm = await b.api('POST', `/api/jobs/${paid}/complete`, undefined, agent.token);
  assert.is(confirm.status, 200, JSON.stringify(confirm.body));
  const d = await jobIn(b, paid, ['done', 'failed', 'expired', 'cancelled'], b.adminToken, 10_000);
  assert.is(d.state, 'done');
  assert.equal(d.result, { paid: true });
  assert.is(statusWords(d), 'Paid');

  // The fleet CLI says the same.
  const cli = await runNpmScript('fleet', ['jobs', '--device', String(device.deviceId), '--broker-api', b.broker.httpUrl], {
    FLEETBIND_ADMIN_TOKEN: b.adminToken,
  });
  assert.is(cli.code, 0, cli.stderr);
  const line = (job: string): string => cli.stdout.split('\n').find((l) => l.startsWith(job)) ?? '';
  assert.match(line(held), /Payment QR\s+Expired – not paid/);
  assert.match(line(plain), /Payment QR\s+Shown/);
  assert.match(line(paid), /Payment QR\s+Paid/);
  await end(agent.client);
});

t.run();
