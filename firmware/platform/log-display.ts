// The display of a board without a screen: every change goes to the log (the serial console),
// and the status LED, if the board has one, is lit while a job's QR would be on screen.
import type { Display, QrView } from '../core/platform';
import { agentLine, captionLine, countdownLine, type Identify } from '../core/display-text';
import type { StatusLed } from './status-led';

export class LogDisplay implements Display, Identify {
  constructor(
    private readonly now: () => number,
    private readonly deviceId: () => string,
    private readonly led?: StatusLed,
  ) {}

  status(line: string): void {
    trace(`display: status ${line}\n`);
  }

  agent(name: string | null, claimCode?: string): void {
    trace(`display: ${agentLine(name, claimCode)}\n`);
  }

  showQr(view: QrView): void {
    const countdown = countdownLine(view, this.now());
    trace(`display: QR "${captionLine(view)}"${countdown ? ' ' + countdown : ''}: ${view.text}\n`);
    this.led?.set(true);
  }

  clearQr(): void {
    trace('display: QR cleared\n');
    this.led?.set(false);
  }

  paid(): void {
    trace('display: PAID\n');
    this.led?.set(false);
  }

  identify(seconds: number): void {
    trace(seconds > 0 ? `display: IDENTIFY ${this.deviceId()} for ${seconds} s\n` : 'display: identify stopped\n');
    this.led?.blink(seconds);
  }
}
