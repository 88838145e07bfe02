// A printer on a simulated device's UART (docs/architecture.md, Machine state). It answers the
// line commands a real one would: `STATUS` (one JSON line the firmware's machine link reads),
// `PRINT <pages>` (busy for a while, ink used per page, and with `jamProbability` a paper jam
// instead), `CLEAR` (clears a jam) and `REFILL` (full ink). The device side is the firmware's own
// SerialExchange, as on the board; replies go out at the line's baud rate like echoMachine's.
import type { TimerHandle } from '../../firmware/core/platform';
import { SerialExchange } from '../../firmware/core/serial-exchange';
import { DesignReceiver } from './sim-design';

export interface PrinterOptions {
  /** Chance (0-1) that a print job jams the paper path. */
  jamProbability: number;
  /** Ink percentage points one page uses, per colour. */
  inkPerPage: number;
  /** How long one page takes. */
  msPerPage: number;
  /** Uniform in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

export const PRINTER_DEFAULTS: PrinterOptions = { jamProbability: 0.02, inkPerPage: 0.5, msPerPage: 200 };

const COLOURS = ['c', 'm', 'y', 'k'] as const;
type Colour = (typeof COLOURS)[number];

const timers = {
  setTimer: (ms: number, cb: () => void): TimerHandle => setTimeout(cb, ms),
  clearTimer: (h: TimerHandle): void => clearTimeout(h as NodeJS.Timeout),
};

export class SimPrinter {
  readonly exchange: SerialExchange;
  ink: Record<Colour, number> = { c: 100, m: 100, y: 100, k: 100 };
  paper = 100;
  prints = 0;
  jobs = 0;
  jammed = false;
  private busyUntil = 0;
  private job: string | null = null;
  private readonly random: () => number;
  /** Walk-up order designs streamed in by the print handler, checked by sha256. */
  readonly design = new DesignReceiver();

  constructor(private readonly o: PrinterOptions = PRINTER_DEFAULTS) {
    this.random = o.random ?? Math.random;
    this.exchange = new SerialExchange(timers, (bytes) => {
      const reply = this.design.accepts(bytes) ?? this.command(Buffer.from(bytes).toString('latin1').trim());
      // Unref'd: a printer still talking must not keep a stopped simulator alive.
      setTimeout(() => this.exchange.receive(Buffer.from(`${reply}\n`, 'latin1')), 2).unref();
    });
  }

  /** An operator puts new cartridges in. */
  refill(): void {
    this.ink = { c: 100, m: 100, y: 100, k: 100 };
    this.paper = 100;
  }

  status(): Record<string, unknown> {
    const busy = Date.now() < this.busyUntil;
    const s: Record<string, unknown> = {
      status: this.jammed ? 'error' : busy ? 'busy' : 'idle',
      ink: { ...this.ink },
      paper: this.paper,
      prints: this.prints,
    };
    if (busy && this.job !== null) s.job = this.job;
    if (this.jammed) s.error = { code: 'JAM', message: 'paper jam: open cover B and clear the path' };
    return s;
  }

  private command(line: string): string {
    const [word, arg] = line.split(/\s+/);
    switch (word) {
      case 'STATUS':
        return JSON.stringify(this.status());
      case 'PRINT':
        return this.print(Number(arg ?? '1'));
      case 'CLEAR':
        this.jammed = false;
        return 'OK';
      case 'REFILL':
        this.refill();
        return 'OK';
      default:
        return 'ERR UNKNOWN';
    }
  }

  private print(pages: number): string {
    if (!Number.isInteger(pages) || pages < 1 || pages > 1000) return 'ERR PAGES';
    if (this.jammed) return 'ERR JAM';
    if (Date.now() < this.busyUntil) return 'ERR BUSY';
    if (COLOURS.some((c) => this.ink[c] <= 0) || this.paper <= 0) return 'ERR EMPTY';
    if (this.random() < this.o.jamProbability) {
      this.jammed = true;
      return 'ERR JAM';
    }
    this.jobs++;
    this.job = `p-${this.jobs}`;
    for (const c of COLOURS) this.ink[c] = Math.max(0, Math.round((this.ink[c] - pages * this.o.inkPerPage * (c === 'k' ? 1.5 : 1)) * 10) / 10);
    this.paper = Math.max(0, Math.round((this.paper - pages * 0.2) * 10) / 10);
    this.prints += pages;
    this.busyUntil = Date.now() + pages * this.o.msPerPage;
    return `OK ${this.job}`;
  }
}
