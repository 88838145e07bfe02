// An ESP32 boots at 1970 and has no battery-backed clock. The broker sets it after every hello
// (the core's setClock); SNTP is optional, for sites with internet access: the `sntp` preference
// (which the broker's desired settings can change) or the build's `sntp`, "none" for off.
import SNTP from 'sntp';
import Time from 'time';
import type { Wifi } from '../core/platform';

/** Earlier than this, the clock has certainly not been set (2024-01-01). */
const PLAUSIBLE_MS = 1_704_067_200_000;

export function clockIsSet(): boolean {
  return Date.now() > PLAUSIBLE_MS;
}

let pending = false;

/** Sets the clock from ms since epoch. */
export function setClock(ms: number): void {
  Time.set(Math.round(ms / 1000));
}

/** Asks `host` for the time unless SNTP is off, the clock is set or a request is under way; call on every new IP. */
export function syncClock(host: string): void {
  if (host === '' || host === 'none' || clockIsSet() || pending) return;
  pending = true;
  new SNTP({ host }, (message, value) => {
    if (message === SNTP.time && value !== undefined) {
      pending = false;
      Time.set(value);
      trace(`clock: set from ${host}\n`);
    } else if (message === SNTP.error) {
      pending = false;
      trace(`clock: no time from ${host} (SNTP gave up); tried again on the next connection\n`);
    }
  });
}

/** Wraps Wi-Fi so every new IP address also asks SNTP for the time, if it is on and the clock is not set yet. */
export function withClockSync(wifi: Wifi, host: () => string): Wifi {
  return {
    connect: (ssid, psk, onStatus) =>
      wifi.connect(ssid, psk, (status) => {
        if (status === 'gotip') syncClock(host());
        onStatus(status);
      }),
    disconnect: () => wifi.disconnect(),
  };
}
