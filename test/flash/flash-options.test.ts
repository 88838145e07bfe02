// The flasher's command line: what it accepts, and that every mistake is refused up front, before
// the device or the registry is touched, with a message that says what to do.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FlashError } from '../../host-tools/flash/errors';
import { ADMIN_TOKEN_ENV } from '../../host-tools/api/connection';
import { defaultBuildDir, parseFlashOptions } from '../../host-tools/flash/options';

const base = ['--port', '/dev/ttyUSB0', '--broker', 'mqtt://broker.example.com:1883', '--insecure'];
const api = ['--broker-api', 'https://fleet.example.com/', '--admin-token', 'T'];

function refused(argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): void {
  try {
    parseFlashOptions(argv, env);
  } catch (e) {
    assert.instance(e, FlashError);
    assert.is((e as FlashError).code, 'USAGE');
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`accepted ${argv.join(' ')}`);
}

const test = suite('flash: options');

test('provisioning through the admin API, with the defaults filled in', () => {
  const o = parseFlashOptions([...base, ...api, '--machine', ' ct0700026 ', '--wifi', 'lab', '--psk', 'passw0rd'], {});
  assert.equal(o.identity, { kind: 'provision', brokerApi: 'https://fleet.example.com', adminToken: 'T', reprovision: false });
  assert.is(o.machine, 'CT0700026');
  assert.equal(o.wifi, { ssid: 'lab', psk: 'passw0rd' });
  assert.is(o.baud, 921600);
  assert.is(o.build, defaultBuildDir());
  assert.equal([o.erase, o.nvsOnly, o.monitor], [false, false, false]);
});

test('the admin token may come from the environment, so it stays out of the process list', () => {
  const o = parseFlashOptions([...base, '--broker-api', 'http://127.0.0.1:8080'], { [ADMIN_TOKEN_ENV]: 'from-env' });
  assert.equal(o.identity, { kind: 'provision', brokerApi: 'http://127.0.0.1:8080', adminToken: 'from-env', reprovision: false });
});

test('an enrollment token instead of the API; an open Wi-Fi network has no passphrase', () => {
  const o = parseFlashOptions([...base, '--enroll-token', 'tok', '--wifi', 'guest'], {});
  assert.equal(o.identity, { kind: 'enroll', token: 'tok' });
  assert.equal(o.wifi, { ssid: 'guest' });
});

const CA = join(import.meta.dirname, '..', 'fixtures', 'tls', 'test-ca.pem');

test('trust: mqtts:// carries the CA certificate to NVS; plain mqtt:// only when --insecure says so', () => {
  const secure = parseFlashOptions(['--port', 'p', '--broker', 'mqtts://fleet.example.com:8883', '--ca', CA, ...api], {});
  assert.equal(secure.trust, { ca: readFileSync(CA, 'utf8') });
  assert.equal(parseFlashOptions([...base, ...api], {}).trust, { insecure: true });
  const plain = ['--port', 'p', '--broker', 'mqtt://b:1883', ...api];
  refused(plain, /sends the device secret in clear: use mqtts:\/\/ with --ca CA\.pem, or say --insecure/);
  refused(['--port', 'p', '--broker', 'mqtts://b', ...api], /needs --ca CA\.pem/);
  refused([...plain, '--ca', CA], /--ca goes with an mqtts:\/\/ --broker/);
  refused(['--port', 'p', '--broker', 'mqtts://b', '--ca', CA, '--insecure', ...api], /either --ca .* or --insecure/);
  refused(['--port', 'p', '--broker', 'mqtts://b', '--ca', join(import.meta.dirname, 'flash-options.test.ts'), ...api], /holds no PEM certificate/);
  refused(['--port', 'p', '--broker', 'mqtts://b', '--ca', '/nonexistent/ca.pem', ...api], /--ca: cannot read/);
});

test('mistakes are refused with what to do', () => {
  refused(['--broker', 'mqtt://b', '--insecure', ...api], /no serial port: pass --port/);
  refused([...base], /say how the device gets its identity/);
  refused([...base, '--broker-api', 'http://x'], /needs an admin token: --admin-token T or \$FLEETBIND_ADMIN_TOKEN/);
  refused([...base, ...api, '--enroll-token', 't'], /either --enroll-token .* or --broker-api/);
  refused([...base, '--enroll-token', 't', '--reprovision'], /--reprovision needs --broker-api/);
  refused(['--port', 'p', ...api], /--broker is required/);
  refused(['--port', 'p', '--broker', 'http://b', ...api], /mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//);
  refused([...base, '--broker-api', 'ftp://x', '--admin-token', 'T'], /http:\/\/ or https:\/\//);
  refused([...base, ...api, '--psk', 'x'], /--psk given without --wifi/);
  refused([...base, ...api, '--wifi', 'x'.repeat(33)], /an SSID is 1 to 32 bytes, this one is 33/);
  refused([...base, ...api, '--wifi', 'lab', '--psk', 'short'], /--psk: the passphrase must be 8 to 63 printable ASCII characters, or 64 hex digits/);
  refused([...base, ...api, '--baud', '1000000'], /--baud must be one of/);
  refused([...base, ...api, '--machine', 'bad code!'], /--machine: machine code must be/);
  refused([...base, ...api, '--erase', '--nvs-only'], /--erase with --nvs-only/);
  refused([...base, ...api, '--mac', '24:0a:c4:00:00:01'], /--mac is only for --out or --dry-run without a port/);
  refused([...base, ...api, '--out', 'out'], /either --port .* or --out DIR/);
  refused(['--out', 'out', '--broker', 'mqtt://b', '--insecure', ...api], /--out with --broker-api needs --mac/);
  refused(['--dry-run', '--broker', 'mqtt://b', '--insecure', ...api], /--dry-run with --broker-api needs --mac/);
  refused(['--dry-run', '--out', 'out', '--broker', 'mqtt://b', '--insecure', ...api], /--dry-run writes nothing/);
  refused(['--out', 'out', '--broker', 'mqtt://b', '--insecure', '--enroll-token', 't', '--monitor'], /--monitor needs a device/);
  refused([...base, ...api, '--dry-run', '--monitor'], /--monitor needs a device/);
  refused([...base, ...api, '--colour'], /Unknown option '--colour'/);
});

test.run();
