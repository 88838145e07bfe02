// A status LED on an ESP32 GPIO, for boards without a screen.
import Digital from 'embedded:io/digital';
import Timer from 'timer';
import type { OpenStatusLed, StatusLed } from '../status-led';

class Led implements StatusLed {
  private readonly io: Digital;
  private blinker: Timer | undefined;
  private steady: 0 | 1 = 0;

  constructor(pin: number) {
    this.io = new Digital({ pin, mode: Digital.Output });
    this.io.write(0);
  }

  set(on: boolean): void {
    this.steady = on ? 1 : 0;
    if (!this.blinker) this.io.write(this.steady);
  }

  /** At 2 Hz. */
  blink(seconds: number): void {
    Timer.clear(this.blinker);
    this.blinker = undefined;
    if (seconds > 0) {
      let level: 0 | 1 = 1;
      let quarters = seconds * 4;
      this.io.write(level);
      this.blinker = Timer.repeat(() => {
        if (--quarters <= 0) {
          Timer.clear(this.blinker);
          this.blinker = undefined;
          this.io.write(this.steady);
          return;
        }
        level = level ? 0 : 1;
        this.io.write(level);
      }, 250);
    } else {
      this.io.write(this.steady);
    }
  }
}

export const openStatusLed: OpenStatusLed = (pin) => (pin === undefined ? undefined : new Led(pin));
