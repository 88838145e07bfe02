// A status LED on a GPIO, for boards without a screen.
import Digital from 'embedded:io/digital';
import Timer from 'timer';

export class Led {
  private readonly io: Digital;
  private blinker: Timer | undefined;
  private steady: 0 | 1 = 0;

  constructor(pin: number) {
    this.io = new Digital({ pin, mode: Digital.Output });
    this.io.write(0);
  }

  /** The level the LED returns to after blinking. */
  set(on: boolean): void {
    this.steady = on ? 1 : 0;
    if (!this.blinker) this.io.write(this.steady);
  }

  /** Blinks at 2 Hz for the given seconds, then returns to the steady level; 0 stops at once. */
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
