// Entry point of the Moddable app: builds the Platform from the adapters in platform/ and starts
// the portable core. A board with a `screen` (set up by the board's manifest) gets the Poco
// display; one without logs to the console and uses its status LED, if its platform has one.
// The LED and the UART are optional per platform (the desktop lin build has neither by default).
import WiFi from 'wifi';
import { openStatusLed } from 'fleetbind/status-led';
import { watchStopSignal } from 'fleetbind/stop-signal';
import type PixelsOut from 'commodetto/PixelsOut';
import { createCore } from './core/core';
import type { ImprovService } from './core/improv';
import { attachImprov } from './core/improv-device';
import { deviceIdFromMac } from '../protocol/ids';
import type { Platform } from './core/platform';
import { readBoard } from './platform/board';
import { setClock, withClockSync } from './platform/clock';
import { log } from './platform/log';
import { stationMac } from './platform/mac';
import { LogDisplay } from './platform/log-display';
import { ModdableMqtt } from './platform/mqtt';
import { PocoDisplay } from './platform/poco-display';
import { countBoot, NvsPrefs } from './platform/prefs';
import { clearTimer, setTimer } from './platform/timer';
import { moddableHttp } from './platform/http';
import { moddableOta } from './platform/ota';
import { openSerial, openUart } from './platform/uart';
import { ModdableWifi } from './platform/wifi';

const board = readBoard();
// The station interface has to exist before its MAC address can be read.
if (WiFi.mode !== WiFi.Mode.station) WiFi.mode = WiFi.Mode.station;
const mac = stationMac(board.mac);
const prefs = new NvsPrefs();
const macId = ((): string => {
  try {
    return deviceIdFromMac(mac);
  } catch {
    return 'no MAC address';
  }
})();
const deviceId = (): string => prefs.get('id') ?? macId;
const now = (): number => Date.now();
const screen = (globalThis as { screen?: PixelsOut }).screen;
const display = screen ? new PocoDisplay(screen, now, deviceId) : new LogDisplay(now, deviceId, openStatusLed(board.led));
const serial = board.uart ? openUart(board.uart, { setTimer, clearTimer }) : undefined;

const platform: Platform = {
  now,
  setClock,
  random: () => Math.random(),
  setTimer,
  clearTimer,
  log,
  prefs,
  wifi: withClockSync(new ModdableWifi(), () => prefs.get('sntp') ?? board.sntp),
  mqtt: new ModdableMqtt(),
  display,
  ...(serial ? { serial, http: moddableHttp } : {}),
  ota: moddableOta,
  identify: (seconds) => display.identify(seconds),
  facts: {
    mac,
    model: board.model,
    fw: board.fw,
    caps: serial ? ['qr.show', 'identify', 'serial.send', 'print', 'ota'] : ['qr.show', 'identify', 'ota'],
    boot: countBoot(),
    ...(screen ? { screen: { width: screen.width, height: screen.height } } : {}),
  },
};

log('info', 'fleetbind firmware starting', {
  model: board.model,
  fw: board.fw,
  boot: platform.facts.boot,
  screen: screen !== undefined,
  uart: serial !== undefined,
});
const core = createCore(platform, {
  machinePollMs: serial ? board.machinePollMs : 0,
  ...(board.otaTrialMs === undefined ? {} : { otaTrialMs: board.otaTrialMs }),
});
// Improv Wi-Fi on the console UART: a network can be given after flashing (npm run flash -- improv).
let improv: ImprovService | null = null;
if (board.improv) {
  const send = openSerial(board.improv, (bytes) => improv?.receive(bytes));
  improv = attachImprov(core, platform, send);
}
core.start();
// The desktop build stops cleanly on SIGTERM/SIGINT: a DISCONNECT, so the broker records a clean offline.
watchStopSignal((signal) => {
  log('info', 'stopping on request', { signal });
  core.stop();
});
