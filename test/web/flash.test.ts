// The web app's Flash page in real Chromium, against the ROM emulator answering as an ESP32, an
// ESP32-S3 and an ESP32-C3: the page's navigator.serial is serial-shim.ts, whose port reaches the
// emulator's pty through serial-bridge.ts with every DTR/RTS change carried to its signal tap. For
// each chip the page must leave exactly the bytes `npm run flash` leaves for the same inputs; the
// page's own provisioning must give the device a secret the broker accepts. Its Improv panel must
// give a simulated device (no network yet, answering Improv on a pty) its Wi-Fi network.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import { credentialEntries } from '../../host-tools/nvs/credentials';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { buildNvsPartition } from '../../host-tools/nvs/writer';
import { deviceIdFromMac } from '../../protocol/ids';
import { writeFirmwareArtefact } from '../../scripts/firmware-artefact';
import { startRig, type Rig } from '../emulator/rig';
import { makeFakeBuild, type FakeBuild } from '../flash/fake-build';
import { runFlashCli } from '../flash/run-flash';
import { connectDevice, TestBroker } from '../helpers/broker';
import { LAB, startImprovSim } from '../helpers/improv-sim';
import { waitUntil } from '../helpers/wait';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { type AppPage, launch, openSignedIn, shot, waitText } from './browser';
import { startSerialBridge, type SerialBridge } from './serial-bridge';
import { ensureWebBuilt } from './web-build';

const CHIPS = [
  { emulator: 'esp32', name: 'ESP32', bootloader: 0x1000 },
  { emulator: 'esp32s3', name: 'ESP32-S3', bootloader: 0x0 },
  { emulator: 'esp32c3', name: 'ESP32-C3', bootloader: 0x0 },
];
const BROKER = 'mqtt://fleet.example.com:1883';
const TOKEN = 'enroll-token-for-the-browser-test';
const WIFI = { ssid: 'lab-net', psk: 'lab-passphrase' };

const SHIM = buildSync({ entryPoints: [join(import.meta.dirname, 'serial-shim.ts')], bundle: true, write: false, format: 'iife', target: 'es2022' })
  .outputFiles[0]!.text;

interface Ctx {
  dir: string;
  artefact: string;
  builds: Record<string, FakeBuild>;
  tb: TestBroker | null;
  browser: Browser | null;
  cleanup: Array<() => Promise<unknown>>;
}

const test = suite<Ctx>('web: flash page');

test.before(async (ctx) => {
  ctx.cleanup = [];
  ctx.tb = null;
  ctx.browser = null;
  requireTool('chromium', 'chromium');
  requireTool('socat', 'socat');
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-webflash-'));
  ctx.artefact = join(ctx.dir, 'release');
  ctx.builds = {};
  for (const c of CHIPS) {
    ctx.builds[c.name] = makeFakeBuild(ctx.dir, { chip: c.name, name: c.emulator });
    writeFirmwareArtefact(ctx.builds[c.name]!.dir, ctx.artefact, { name: 'fleetbind', version: '1.2.3' });
  }
  await ensureWebBuilt();
  ctx.tb = await TestBroker.start();
  ctx.browser = await launch();
});

test.after(async (ctx) => {
  for (const c of ctx.cleanup.reverse()) await c();
  await ctx.browser?.close();
  await ctx.tb?.stop();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

async function rig(ctx: Ctx, chip: string, mac: string): Promise<Rig> {
  const r = await startRig({ chip, mac });
  ctx.cleanup.push(() => r.stop());
  return r;
}

/** The admin's Flash page with navigator.serial wired to the bridge. */
async function flashPage(ctx: Ctx, bridge: SerialBridge, width?: number): Promise<AppPage> {
  const first = ctx.tb!.broker.firstAdmin!;
  const app = await openSignedIn(ctx.browser!, ctx.tb!.broker.httpUrl, { id: first.username, password: first.password }, '/admin');
  ctx.cleanup.push(() => app.context.close());
  if (width) await app.page.setViewportSize({ width, height: 900 });
  await app.context.addInitScript({
    content: `window.__serialShim = ${JSON.stringify({ url: bridge.url, info: { usbVendorId: 0x10c4, usbProductId: 0xea60 } })};\n${SHIM}`,
  });
  await app.page.getByRole('link', { name: 'Flash', exact: true }).click();
  await app.page.waitForURL(`${ctx.tb!.broker.httpUrl}/admin/flash`);
  // The init script runs on the next document; load the page again so it is in place.
  await app.page.reload();
  await app.page.locator('#flash-firmware').setInputFiles(ctx.artefact);
  await waitText(app.page.getByTestId('flash-firmware'), 'ESP32-C3: bootloader at 0x0');
  return app;
}

async function fill(page: Page, fields: { broker: string; enroll?: string; machine?: string }): Promise<void> {
  await page.getByLabel('Broker URL').fill(fields.broker);
  await page.getByLabel('Allow plain MQTT (no TLS: the device secret travels in clear)').check();
  if (fields.enroll !== undefined) {
    await page.getByLabel('It registers itself with an enrollment token').check();
    await page.getByRole('textbox', { name: 'Enrollment token' }).fill(fields.enroll);
  }
  if (fields.machine) await page.getByLabel('Machine code (optional)').fill(fields.machine);
  await page.getByLabel('Wi-Fi network (optional)').fill(WIFI.ssid);
  await page.getByLabel('Wi-Fi passphrase').fill(WIFI.psk);
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const at = a.findIndex((x, i) => x !== b[i]);
  return at < 0 ? (a.length === b.length ? 'nowhere' : 'in length') : `at 0x${at.toString(16)}`;
}

for (const c of CHIPS) {
  test(`${c.name}: the page writes the same bytes as npm run flash, with a progress bar and MD5 verify`, async (ctx) => {
    const mac = '24:0a:c4:ee:00:01';
    const cliRig = await rig(ctx, c.emulator, mac);
    const cli = await runFlashCli(
      ['--port', cliRig.hostPath, '--broker', BROKER, '--insecure', '--enroll-token', TOKEN, '--wifi', WIFI.ssid, '--psk', WIFI.psk, '--build', ctx.artefact],
      { tap: cliRig.tapPath },
    );
    assert.is(cli.code, 0, cli.stderr);
    const byCli = await cliRig.flash();

    const webRig = await rig(ctx, c.emulator, mac);
    const bridge = await startSerialBridge(webRig.hostPath, webRig.tapPath);
    ctx.cleanup.push(() => bridge.close());
    const app = await flashPage(ctx, bridge);
    await fill(app.page, { broker: BROKER, enroll: TOKEN });
    await app.page.getByRole('button', { name: 'Connect and flash' }).click();
    await waitText(app.page.getByTestId('flash-done'), `Flashed and verified ${c.name}`, 120_000);
    const byWeb = await webRig.flash();

    const expected = Buffer.alloc(4 * 1024 * 1024, 0xff);
    const build = ctx.builds[c.name]!;
    expected.set(build.bootloader, c.bootloader);
    expected.set(build.partitionTable, 0x8000);
    expected.set(buildNvsPartition(credentialEntries({ ssid: WIFI.ssid, psk: WIFI.psk, broker: BROKER, enroll: TOKEN, insecure: '1' }), 0x6000), 0x9000);
    expected.set(build.app, 0x10000);
    assert.ok(Buffer.from(byWeb).equals(Buffer.from(byCli)), `the page's flash differs from the CLI's ${firstDifference(byWeb, byCli)}`);
    assert.ok(Buffer.from(byWeb).equals(expected), `the page's flash differs from the expected images ${firstDifference(byWeb, expected)}`);

    const events = webRig.events();
    assert.equal(
      events.filter((e) => e.ev === 'command' && e.op === 'SPI_FLASH_MD5').map((e) => e.a),
      [c.bootloader, 0x8000, 0x9000, 0x10000],
      'the page verified every image',
    );
    assert.equal(
      events.filter((e) => e.ev === 'reset' || e.ev === 'boot').map((e) => (e.ev === 'boot' ? `boot:${e.mode}` : 'reset')),
      ['reset', 'boot:download', 'reset', 'boot:spi'],
      'reset into the ROM by DTR/RTS, then into the firmware',
    );
    assert.ok(
      bridge.requests.some((r) => r.op === 'signals'),
      'the lines went through the bridge',
    );
    assert.is(await app.page.getByTestId('flash-percent').textContent(), '100%');
    assert.is(await app.page.getByTestId('flash-progress').getAttribute('aria-label'), 'Writing app @0x10000');
    const log = (await app.page.getByTestId('flash-log').textContent()) ?? '';
    assert.match(log, /Verifying MD5 of every image/);
    assert.match(log, new RegExp(`using the ${c.name} build of ESP32, ESP32-S3, ESP32-C3`));
    assert.not.ok(log.includes(WIFI.psk) || log.includes(TOKEN), 'no secret in the page log');
    assert.equal(app.errors, []);
    if (c.name === 'ESP32') await shot(app.page, 'admin-flash-390');
  });
}

test('the page provisions the device with the admin session: the secret in its flash logs in to the broker', async (ctx) => {
  const mac = '34:85:18:ee:00:02';
  const webRig = await rig(ctx, 'esp32s3', mac);
  const bridge = await startSerialBridge(webRig.hostPath, webRig.tapPath);
  ctx.cleanup.push(() => bridge.close());
  const app = await flashPage(ctx, bridge, 1280);
  const broker = ctx.tb!.broker.mqttUrl;
  await fill(app.page, { broker, machine: 'ct0700088' });
  await shot(app.page, 'admin-flash-desktop');
  await app.page.getByRole('button', { name: 'Connect and flash' }).click();
  const id = deviceIdFromMac(mac);
  await waitText(app.page.getByTestId('flash-done'), `as ${id}; it is registered.`, 120_000);

  const flash = await webRig.flash();
  const creds = Object.fromEntries(
    readNvsPartition(flash.subarray(0x9000, 0xf000))
      .filter((e) => e.namespace === 'fb')
      .map((e) => [e.key, e.value]),
  );
  assert.equal(
    { ...creds, secret: typeof creds.secret },
    { ssid: WIFI.ssid, psk: WIFI.psk, broker, id, secret: 'string', machine: 'CT0700088', insecure: '1' },
  );
  const registered = await ctx.tb!.api('GET', `/api/devices/${id}`);
  assert.is(registered.status, 200);
  assert.is(registered.body.machineCode, 'CT0700088');
  const device = await connectDevice(broker, { id, secret: creds.secret as string, mac: mac.replace(/:/g, '') });
  device.client.end(true);
  const log = (await app.page.getByTestId('flash-log').textContent()) ?? '';
  assert.not.ok(log.includes(creds.secret as string), 'the secret is not shown');
  assert.equal(app.errors, []);
});

test('Wi-Fi over Improv from the page: a wrong passphrase is refused, the right one gets the device on line', async (ctx) => {
  const sim = await startImprovSim(ctx.tb!, ctx.dir, 'WIMP-');
  ctx.cleanup.push(() => sim.stop());
  const bridge = await startSerialBridge(sim.port);
  ctx.cleanup.push(() => bridge.close());
  const app = await flashPage(ctx, bridge);
  const page = app.page;
  await page.getByLabel('Network (SSID)').fill(LAB.ssid);
  await page.getByLabel('Passphrase', { exact: true }).fill('not-the-passphrase');
  await page.getByRole('button', { name: 'Send Wi-Fi over Improv' }).click();
  await waitText(page.getByTestId('improv-error'), 'could not join the network', 60_000);
  await page.getByLabel('Passphrase', { exact: true }).fill(LAB.psk);
  await page.getByRole('button', { name: 'Send Wi-Fi over Improv' }).click();
  await waitText(page.getByTestId('improv-done'), `joined ${LAB.ssid}.`, 60_000);
  await waitUntil(
    async () => (await ctx.tb!.api<Array<{ machineCode: string | null }>>('GET', '/api/devices')).body.some((d) => d.machineCode === 'WIMP-0001'),
    30_000,
    'the device to enroll',
  );
  assert.equal(app.errors, []);
});

test.run();
