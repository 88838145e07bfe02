// A status LED is optional per platform: the ESP32 boards drive a GPIO, the desktop (lin)
// build has none. main.ts imports `fleetbind/status-led`, which the manifest maps to the
// platform's own file, so a platform without digital IO never loads it.

export interface StatusLed {
  /** The level the LED returns to after blinking. */
  set(on: boolean): void;
  /** Blinks for the given seconds, then returns to the steady level; 0 stops at once. */
  blink(seconds: number): void;
}

/** The LED on `pin`, or undefined when the board has none. */
export type OpenStatusLed = (pin: number | undefined) => StatusLed | undefined;
