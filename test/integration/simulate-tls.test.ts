// The simulated device (the real firmware core on mqtt.js) over real TLS to the broker: it
// trusts only the CA provisioned in its preferences, so a broker whose certificate chains to
// another CA is refused during the handshake. Plain MQTT needs insecure=1, and the broker
// counts every device that connects that way.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker, httpsApi } from '../helpers/broker';
import { metric } from '../helpers/metrics';
import { enrollmentToken as tokenVia, startFleet } from '../helpers/sim';
import { eventually } from '../helpers/wait';
import { requireTool } from '../helpers/tools';

const test = suite('simulator over TLS');
let dir = '';
let tb: TestBroker | null = null;
const fleets: SimFleet[] = [];

const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA, and a server certificate for 127.0.0.1 signed by it. */
function makeCa(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    cert,
  );
  return { cert, key };
}

function makeServer(ca: { cert: string; key: string }): { cert: string; key: string } {
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', csr);
  openssl('x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', cert);
  return { cert, key };
}

/** REST over HTTPS, trusting the fleet CA. */
const api = <T = any>(method: string, path: string, body?: unknown) =>
  httpsApi<T>(tb!.broker.httpUrl, readFileSync(join(dir, 'fleet-ca.pem')), method, path, body, tb!.adminToken);
const enrollmentToken = (): Promise<string> => tokenVia({ api }, 1);

async function plaintext(kind: string): Promise<number> {
  const r = await api<string>('GET', '/metrics');
  return metric(r.body, 'fleetbind_plaintext_device_connections_total', { kind });
}

test.before(async () => {
  requireTool('openssl', 'openssl');
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-sim-tls-'));
  const ca = makeCa('fleet-ca');
  const server = makeServer(ca);
  tb = await TestBroker.start({ tlsCert: server.cert, tlsKey: server.key, mqttsPort: 0 });
});

test.after(async () => {
  for (const f of fleets) f.stop();
  await tb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a device with the fleet CA enrolls and comes online over mqtts://; nothing is counted as plaintext', async () => {
  const url = `mqtts://127.0.0.1:${tb!.broker.mqttsPort}`;
  const fleet = startFleet(url, {
    devices: 1,
    machinesPrefix: 'TLS-',
    enrollToken: await enrollmentToken(),
    ca: readFileSync(join(dir, 'fleet-ca.pem'), 'utf8'),
  });
  fleets.push(fleet);
  const device = fleet.devices[0]!;
  await eventually(() => assert.is(device.state, 'ready'), 20_000);
  assert.ok(device.registered, 'enrolled over TLS');
  assert.ok(device.mqtt.attempts.every((a) => a.close?.refused === undefined));
  assert.is(await plaintext('device'), 0);
  assert.is(await plaintext('enroll'), 0);
});

test('a device given another CA refuses the broker during the handshake and never sends its token', async () => {
  const wrong = makeCa('other-ca');
  const url = `mqtts://127.0.0.1:${tb!.broker.mqttsPort}`;
  const fleet = startFleet(url, {
    devices: 1,
    machinesPrefix: 'WRONG-',
    enrollToken: await enrollmentToken(),
    ca: readFileSync(wrong.cert, 'utf8'),
    core: { mqttBackoff: { baseMs: 100, capMs: 200, factor: 2, jitter: 0.5 } },
  });
  fleets.push(fleet);
  const device = fleet.devices[0]!;
  await eventually(() => assert.ok(device.mqtt.attempts.filter((a) => a.close !== undefined).length >= 2), 20_000);
  for (const a of device.mqtt.attempts.filter((x) => x.close !== undefined)) {
    assert.match(a.close!.reason ?? '', /certificate/i);
    assert.is(a.readyAt, undefined, 'never got a CONNACK');
  }
  assert.not.ok(device.registered);
});

test('plain mqtt:// works only with insecure=1, and the broker counts each such device connection', async () => {
  const before = { device: await plaintext('device'), enroll: await plaintext('enroll') };
  const fleet = startFleet(tb!.broker.mqttUrl, { devices: 1, machinesPrefix: 'PLAIN-', enrollToken: await enrollmentToken() });
  fleets.push(fleet);
  const device = fleet.devices[0]!;
  assert.is(device.prefs.get('insecure'), '1');
  await eventually(() => assert.is(device.state, 'ready'), 20_000);
  assert.is(await plaintext('enroll'), before.enroll + 1);
  assert.is(await plaintext('device'), before.device + 1);
});

test.run();
