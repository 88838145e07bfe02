// Human progress on stderr: one line per step, and a bar per image with bytes, rate and ETA.
// On a terminal the bar redraws in place; elsewhere (CI logs, pipes) a line is printed at each
// quarter, so the log shows progress without thousands of lines.
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

const BAR_WIDTH = 24;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

export class Progress {
  private bar: { label: string; total: number; started: number; lastQuarter: number } | null = null;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
  ) {}

  step(text: string): void {
    this.endBar();
    this.out.write(`• ${text}\n`);
  }

  note(text: string): void {
    this.endBar();
    this.out.write(`  ${text}\n`);
  }

  startImage(label: string, total: number): void {
    this.endBar();
    this.bar = { label, total, started: this.now(), lastQuarter: 0 };
  }

  /** `done` of `total` bytes sent (esptool-js counts the compressed bytes on the wire). */
  update(done: number): void {
    const b = this.bar;
    if (!b) return;
    const fraction = b.total === 0 ? 1 : Math.min(1, done / b.total);
    const elapsed = Math.max(1e-3, (this.now() - b.started) / 1000);
    const rate = done / elapsed;
    const eta = rate > 0 ? (b.total - done) / rate : Infinity;
    const filled = Math.round(fraction * BAR_WIDTH);
    const line =
      `  ${b.label.padEnd(16)} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%` +
      `  ${formatBytes(done)}/${formatBytes(b.total)}  ${formatBytes(Math.round(rate))}/s  ETA ${formatSeconds(eta)}`;
    if (this.out.isTTY) {
      this.out.write(`\r${line}\x1b[K`);
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter > b.lastQuarter) {
      b.lastQuarter = quarter;
      this.out.write(`${line}\n`);
    }
  }

  private endBar(): void {
    if (this.bar && this.out.isTTY) this.out.write('\n');
    this.bar = null;
  }

  done(): void {
    this.endBar();
  }
}
