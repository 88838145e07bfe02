// The core's view of the display. The screen is a courtesy: a broken display adapter is logged
// and must never keep the device offline.
import { errorSummary } from './error-summary';
import type { Display, Platform } from './platform';

export class Screen {
  constructor(private readonly platform: Pick<Platform, 'display' | 'log'>) {}

  status(line: string): void {
    this.show('status', (d) => d.status(line));
  }

  show(what: string, fn: (display: Display) => void): void {
    try {
      fn(this.platform.display);
    } catch (e) {
      this.platform.log('error', 'display adapter threw', { where: what, error: errorSummary(e) });
    }
  }
}
