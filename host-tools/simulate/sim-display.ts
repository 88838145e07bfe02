// Platform display for a simulated device. It keeps what a screen would show (status, agent or
// claim code, the QR with caption and countdown) and shows each QR either in the terminal or as
// a PNG file in --png-dir, named <device>-<n>.png, so a phone or a test can scan it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import QRCode from 'qrcode';
import type { Display, QrView } from '../../firmware/core/platform';
import { agentLine, captionLine, countdownLine, type Identify } from '../../firmware/core/display-text';

export interface ShownQr {
  view: QrView;
  /** The PNG written for it (with a PNG directory). */
  file?: string;
  /** Settles once the PNG is on disk or the terminal rendering is printed. */
  rendered: Promise<void>;
}

export interface SimDisplayOptions {
  /** Shown in file names and terminal output. */
  label: string;
  pngDir?: string;
  /** Where terminal output goes (above the progress line); without it QRs are not printed. */
  print?: (text: string) => void;
  onError?: (what: string, err: unknown) => void;
}

export class SimDisplay implements Display, Identify {
  statusText = '';
  agentText = '';
  qr: ShownQr | null = null;
  isPaid = false;
  identifying = 0;
  readonly shown: ShownQr[] = [];
  private seq = 0;

  constructor(private readonly o: SimDisplayOptions) {
    if (o.pngDir) mkdirSync(o.pngDir, { recursive: true });
  }

  status(line: string): void {
    this.statusText = line;
  }

  agent(name: string | null, claimCode?: string): void {
    this.agentText = agentLine(name, claimCode);
  }

  showQr(view: QrView): void {
    // Encoded now, so text no QR version can hold throws into the job, as on the board.
    QRCode.create(view.text, { errorCorrectionLevel: 'M' });
    const shown: ShownQr = { view, rendered: Promise.resolve() };
    if (this.o.pngDir) {
      const file = join(this.o.pngDir, `${this.o.label}-${String(++this.seq).padStart(4, '0')}.png`);
      shown.file = file;
      shown.rendered = QRCode.toFile(file, view.text, { errorCorrectionLevel: 'M', margin: 4, scale: 6 });
    } else if (this.o.print) {
      const print = this.o.print;
      shown.rendered = QRCode.toString(view.text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' }).then((art) =>
        print(`${this.o.label}: ${captionLine(view)} ${countdownLine(view, Date.now())}\n${art}`),
      );
    }
    shown.rendered = shown.rendered.catch((e: unknown) => this.o.onError?.('rendering a QR', e));
    this.qr = shown;
    this.isPaid = false;
    this.shown.push(shown);
    // Only the latest few are kept: a simulator may run for days.
    if (this.shown.length > 8) this.shown.shift();
  }

  clearQr(): void {
    this.qr = null;
    this.isPaid = false;
  }

  paid(): void {
    this.isPaid = true;
    this.o.print?.(`${this.o.label}: PAID`);
  }

  identify(seconds: number): void {
    this.identifying = seconds;
    if (seconds > 0) this.o.print?.(`${this.o.label}: IDENTIFY for ${seconds} s`);
  }
}
