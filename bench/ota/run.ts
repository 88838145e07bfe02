// OTA benchmark (docs/architecture.md, Over-the-air updates): N simulated devices (the real
// firmware core, downloading over real HTTP from signed blob URLs) take a 100 % wave of a
// 1.5 MiB release from one broker running as its own process. Prints the aggregate download
// rate, the broker's CPU and peak RSS over the wave, and the time until the wave is done (every
// device confirmed after its restart).
//
//   npm run bench:ota -- [--devices 2000] [--image-kib 1536] [--timeout 900]
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { rawPublicKey } from '../../host-tools/release/keys';
import { SimFleet } from '../../host-tools/simulate/fleet';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { closedPort } from '../../test/helpers/ports';
import { cpuMsOf, rssOf } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:ota --',
    usage: ['[--devices 2000] [--image-kib 1536] [--timeout 900]'],
    summary:
      'Simulated devices download one release in a single 100 % wave from one broker process; prints MiB/s, broker CPU and RSS, and the time for the wave to finish.',
    options: {
      devices: { type: 'string', value: 'N', default: '2000', help: 'how many devices' },
      'image-kib': { type: 'string', value: 'KIB', default: '1536', help: 'image size in KiB' },
      timeout: { type: 'string', value: 'S', default: '900', help: 'give up after S seconds' },
    },
  }),
);
const DEVICES = Number(values.devices);
const IMAGE = randomBytes(Number(values['image-kib']) * 1024);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const MiB = 1024 * 1024;

const keys = generateKeyPairSync('ed25519');
const PUB = rawPublicKey(keys.publicKey).toString('base64');
const ADMIN = randomBytes(24).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-ota-'));
const port = await closedPort();
const broker = await BrokerProcess.start(dir, ADMIN, [
  '--http-port',
  String(port),
  '--public-url',
  `http://127.0.0.1:${port}`,
  '--release-public-keys',
  PUB,
  '--ota-tick-ms',
  '500',
  '--ota-ack-timeout-ms',
  '30000',
]);
const pid = broker.child.pid!;
let fleet: SimFleet | null = null;
try {
  const token = await broker.api('POST', '/api/enrollment-tokens', { uses: DEVICES, expiresIn: 3600 });
  fleet = new SimFleet({
    devices: DEVICES,
    broker: broker.mqttUrl,
    enrollToken: token.body.token,
    machinesPrefix: 'BOTA',
    rampMs: 10_000,
    log: pino({ level: 'silent' }),
    ota: { capacity: 4 * MiB, releaseKeys: PUB },
  });
  fleet.start();
  await fleet.waitFor((s) => s.registered === DEVICES && s.connected === DEVICES, TIMEOUT_MS, 'the fleet enrolled and online');
  console.log(`bench:ota: ${DEVICES} devices online`);

  const manifest = JSON.stringify({
    version: '9.0.0',
    models: ['fleetbind-sim'],
    size: IMAGE.length,
    sha256: createHash('sha256').update(IMAGE).digest('hex'),
  });
  const form = new FormData();
  form.append('manifest', manifest);
  form.append('sig', sign(null, Buffer.from(manifest), keys.privateKey).toString('base64'));
  form.append('image', new Blob([new Uint8Array(IMAGE)]), 'app.bin');
  const up = await fetch(`${broker.httpUrl}/api/releases`, { method: 'POST', body: form, headers: { authorization: `Bearer ${ADMIN}` } });
  if (up.status !== 201) throw new Error(`release upload failed: ${up.status} ${await up.text()}`);

  const cpu0 = cpuMsOf(pid)!;
  let peakRss = rssOf(pid) ?? 0;
  const started = Date.now();
  const created = await broker.api('POST', '/api/rollouts', {
    release: '9.0.0',
    target: { all: true },
    waves: [100],
    waveSoakMinutes: 0,
    maxFailurePercent: 100,
  });
  if (created.status !== 201) throw new Error(`rollout failed: ${created.status} ${JSON.stringify(created.body)}`);
  const id = created.body.id as string;
  let view: any = created.body;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    peakRss = Math.max(peakRss, rssOf(pid) ?? 0);
    view = (await broker.api('GET', `/api/rollouts/${id}`)).body;
    if (view.state !== 'running' || Date.now() - started > TIMEOUT_MS) break;
  }
  const finished = Date.now();
  const cpuMs = cpuMsOf(pid)! - cpu0;
  const bytes = DEVICES * IMAGE.length;
  const waveS = (finished - started) / 1000;
  console.log(`bench:ota: ${DEVICES} devices, image ${(IMAGE.length / MiB).toFixed(2)} MiB, one broker process`);
  console.log(`  rollout state           ${view.state}; ${JSON.stringify(view.counts)}`);
  // Every confirmed device downloaded the whole image once; the rate is over the whole wave (sends, downloads, restarts, confirmations).
  console.log(`  images delivered        ${(bytes / MiB).toFixed(0)} MiB → ${(bytes / MiB / waveS).toFixed(1)} MiB/s aggregate over the wave`);
  console.log(`  100 % wave finished in  ${((finished - started) / 1000).toFixed(1)} s (every device confirmed after its restart)`);
  console.log(`  broker CPU              ${(cpuMs / 1000).toFixed(1)} s over the wave (${((cpuMs / (finished - started)) * 100).toFixed(0)} % of one core)`);
  console.log(`  broker peak RSS         ${(peakRss / MiB).toFixed(0)} MiB`);
} finally {
  fleet?.stop();
  await broker.kill();
  rmSync(dir, { recursive: true, force: true });
}
