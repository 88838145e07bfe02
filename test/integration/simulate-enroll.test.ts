// Simulated devices (the real firmware core) enrolled with a token register, receive their
// own secrets, appear in the registry with model, fw and caps, and reconnect with the stored
// secret, never the token again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SIM_CAPS, SIM_MODEL } from '../../host-tools/simulate/device';
import { simFirmwareVersion, type SimFleet } from '../../host-tools/simulate/fleet';
import { deviceIdFromMac } from '../../protocol/ids';
import { TestBroker } from '../helpers/broker';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { eventually } from '../helpers/wait';

const DEVICES = 3;
const t = suite('simulated devices enroll');
let b: TestBroker;
let stateDir = '';
const fleets: SimFleet[] = [];

t.before(async () => {
  b = await TestBroker.start();
  stateDir = mkdtempSync(join(tmpdir(), 'fb-sim-enroll-'));
});
t.after(async () => {
  for (const f of fleets) f.stop();
  await b.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

t('enrolled devices register with their own secret and show up in the registry', async () => {
  const token = await enrollmentToken(b, DEVICES);
  const fleet = startFleet(b.broker.mqttUrl, { devices: DEVICES, enrollToken: token, machinesPrefix: 'ENR-', stateDir });
  fleets.push(fleet);
  await fleet.waitFor((s) => s.registered === DEVICES && s.connected === DEVICES, 30_000, 'all devices enrolled and online');

  const secrets = new Set<string>();
  for (const d of fleet.devices) {
    const id = d.deviceId!;
    assert.is(id, deviceIdFromMac(d.mac));
    assert.is(d.prefs.get('enroll'), undefined, 'the token stays in NVS after enrolling');
    secrets.add(d.prefs.get('secret')!);
    // First an enrollment session as "enroll", then the device's own session.
    assert.equal(
      d.mqtt.attempts.map((a) => a.username),
      ['enroll', id],
    );
    const row = await eventually(async () => {
      const r = await b.api('GET', `/api/devices/${id}`);
      assert.is(r.status, 200);
      // Enrollment already records fw; the caps arrive only with the hello.
      assert.is(r.body.fw, simFirmwareVersion(), 'hello not processed yet');
      assert.equal(r.body.caps, SIM_CAPS, 'hello not processed yet');
      return r.body;
    }, 10_000);
    assert.is(row.model, SIM_MODEL);
    assert.is(row.machineCode, d.label);
    assert.is(row.mac, d.mac);
  }
  assert.is(secrets.size, DEVICES, 'devices share a secret');
  const tokens = await b.api('GET', '/api/enrollment-tokens');
  assert.is(tokens.body[0].usesLeft, 0);
});

t('restarted devices reconnect with the stored secret, not the token', async () => {
  fleets[0]!.stop();
  await fleets[0]!.saved();
  const fleet = startFleet(b.broker.mqttUrl, { devices: DEVICES, machinesPrefix: 'ENR-', stateDir });
  fleets.push(fleet);
  await fleet.waitFor((s) => s.connected === DEVICES, 30_000, 'all devices back online');
  for (const d of fleet.devices) {
    assert.equal(
      d.mqtt.attempts.map((a) => a.username),
      [d.deviceId!],
    );
    assert.ok(d.mqtt.attempts[0]!.readyAt, 'the stored secret was refused');
  }
});

t.run();
