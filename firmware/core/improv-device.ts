// Improv (improv.ts) wired to the device: a network it is given is joined through the core, it
// counts as on Wi-Fi whenever the core is past its Wi-Fi step, and it describes itself with the
// firmware's facts and device id. `send` writes to the console UART (or the simulator's port).
import type { DeviceCore } from './core';
import type { CoreState } from './core-options';
import { ImprovService } from './improv';
import type { Platform } from './platform';
import { deviceIdFromMac } from '../../protocol/ids';

const ON_WIFI: CoreState[] = ['enroll', 'mqtt', 'hello', 'ready', 'busy'];

export function attachImprov(core: DeviceCore, platform: Platform, send: (bytes: Uint8Array) => void): ImprovService {
  return new ImprovService({
    send,
    join: (ssid, psk, done) => core.joinWifi(ssid, psk, done),
    online: () => ON_WIFI.includes(core.state),
    info: () => {
      const f = platform.facts;
      let name = platform.prefs.get('id') ?? '';
      if (name === '') {
        try {
          name = deviceIdFromMac(f.mac);
        } catch {
          name = f.model;
        }
      }
      return { firmware: 'fleetbind', version: f.fw, chip: f.model, name };
    },
    log: (msg, fields) => platform.log('info', msg, fields),
  });
}
