// Kill the broker (SIGKILL, a real crash) under a simulated fleet running the real firmware
// core, restart it on the same port: every device comes back by itself, each retry waits within
// the core's backoff bounds, and jitter spreads the retries instead of a thundering herd.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffCeiling, DEFAULT_BACKOFF } from '../../firmware/core/backoff';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { BrokerProcess } from '../helpers/broker-process';
import { sleep } from '../helpers/mqtt';
import { enrollmentToken, startFleet } from '../helpers/sim';

const DEVICES = 12;
/** Timers never fire early; late by at most this much on a loaded CI machine. */
const LATE_MS = 500;
const t = suite('simulated fleet survives a broker restart');
let dataDir = '';
let broker: BrokerProcess | undefined;
let fleet: SimFleet | undefined;

t.before(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'fb-sim-restart-'));
});
t.after(async () => {
  fleet?.stop();
  await broker?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

t('every device comes back within backoff bounds, with jittered retries', async () => {
  const adminToken = randomBytes(24).toString('hex');
  broker = await BrokerProcess.start(dataDir, adminToken);
  const port = new URL(broker.mqttUrl).port;
  fleet = startFleet(broker.mqttUrl, { devices: DEVICES, enrollToken: await enrollmentToken(broker, DEVICES), machinesPrefix: 'RST-' });
  // Answered: each device applied the config that answers its hello (bench:fleet's reboot waits for it).
  await fleet.waitFor(
    (s) => s.registered === DEVICES && s.connected === DEVICES && s.answered === DEVICES,
    60_000,
    'all devices registered, online and answered',
  );
  assert.ok(fleet.allAnsweredAt !== null, 'the fleet noted when the last device was answered');

  await broker.stop('SIGKILL');
  // Read once the broker is gone: a device still moving from its enrollment session to its own
  // credentials may connect in the moment between a timestamp taken before the kill and the kill,
  // and that session was with the old broker all the same.
  const killedAt = Date.now();
  await fleet.waitFor((s) => s.connected === 0, 10_000, 'every device noticed the broker is gone');
  // Nothing listens for a while, so the devices go through several failed, growing retries.
  await sleep(3000);
  broker = await BrokerProcess.start(dataDir, adminToken, ['--mqtt-port', port]);
  await fleet.waitFor((s) => s.connected === DEVICES, 60_000, 'all devices back online after the restart');

  const firstRetries: number[] = [];
  for (const d of fleet.devices) {
    const attempts = d.mqtt.attempts;
    let lost = attempts.length - 1;
    while (lost >= 0 && !(attempts[lost]!.readyAt !== undefined && attempts[lost]!.readyAt! < killedAt)) lost--;
    assert.ok(lost >= 0, `${d.label}: no session before the kill`);
    const retries = attempts.slice(lost + 1);
    assert.ok(retries.length >= 1, `${d.label}: never retried`);
    assert.ok(retries.at(-1)!.readyAt !== undefined, `${d.label}: the last attempt did not connect`);
    assert.ok(
      retries.slice(0, -1).every((a) => a.readyAt === undefined),
      `${d.label}: connected before the broker was back (killed at ${killedAt}; attempts since the last session before: ${JSON.stringify(attempts.slice(lost))})`,
    );
    for (let k = 0; k < retries.length; k++) {
      const previousEnd = attempts[lost + k]!.closedAt;
      assert.ok(previousEnd !== undefined, `${d.label}: attempt ${lost + k} has no end`);
      const waited = retries[k]!.at - previousEnd;
      const ceiling = backoffCeiling(k, DEFAULT_BACKOFF);
      const floor = ceiling * (1 - DEFAULT_BACKOFF.jitter);
      assert.ok(waited >= floor - 5 && waited <= ceiling + LATE_MS, `${d.label}: retry ${k} waited ${waited} ms, outside [${floor}, ${ceiling}]`);
      if (k === 0) firstRetries.push(waited);
    }
  }
  // Twelve uniform draws over a 500 ms window: a spread under 100 ms means the jitter is gone.
  const spread = Math.max(...firstRetries) - Math.min(...firstRetries);
  assert.ok(spread >= 100, `first retries are bunched within ${spread} ms: ${firstRetries.join(', ')}`);
});

t.run();
