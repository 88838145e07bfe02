// What the lin build does on SIGTERM (firmware/platform/lin/stop-signal.ts), over real MQTT with
// the simulator's MQTT adapter: the firmware core's stop() ends the session with a DISCONNECT, so
// the broker records the device offline with reason `clean` (not `socket` or `keepalive`).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { SimDevice } from '../../host-tools/simulate/device';
import { MemoryPrefs } from '../../host-tools/simulate/sim-prefs';
import { TestBroker } from '../helpers/broker';
import { waitUntil } from '../helpers/wait';

const t = suite('firmware: a clean stop');

t('core.stop() → DISCONNECT → presence offline, reason clean', async () => {
  const tb = await TestBroker.start({ graceMs: 500 });
  try {
    const dev = await tb.provision();
    const port = new URL(tb.broker.mqttUrl).port;
    const device = new SimDevice({
      label: 'STOP-1',
      mac: dev.mac,
      fw: '1.0.0',
      prefs: new MemoryPrefs({ ssid: 'lab', broker: `mqtt://127.0.0.1:${port}`, insecure: '1', id: dev.id, secret: dev.secret }),
      log: pino({ level: 'silent' }),
      associateMs: () => 5,
    });
    device.start();
    const presence = async () =>
      ((await tb.api('GET', '/api/devices')).body as { id: string; presence: { state: string; reason?: string } }[]).find((d) => d.id === dev.id)?.presence;
    await waitUntil(
      async () => device.state === 'ready' && (await presence())?.state === 'online',
      20_000,
      () => `device online (state ${device.state})`,
    );
    device.core.stop();
    assert.is(device.state, 'stopped');
    const offline = await waitUntil(
      async () => {
        const p = await presence();
        return p?.state === 'offline' && p;
      },
      20_000,
      () => 'presence offline',
    );
    assert.is(offline.reason, 'clean');
  } finally {
    await tb.stop();
  }
});

t.run();
