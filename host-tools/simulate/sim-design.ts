// The simulated printer's side of a walk-up order (docs/architecture.md, "Walk-up orders"): it
// takes the design the firmware's print handler streams (DESIGN, DATA frames, END, ABORT), and
// on END answers OK only when the sha256 of the bytes it received is the one announced.
import { createHash, type Hash } from 'node:crypto';

export interface ReceivedDesign {
  sha256: string;
  bytes: number;
  copies: number;
  ok: boolean;
}

export class DesignReceiver {
  /** Every design that reached END, in order. */
  readonly printed: ReceivedDesign[] = [];
  private open: { size: number; copies: number; sha256: string; hash: Hash; bytes: number } | null = null;

  /** The reply to a design frame, or null when the bytes are some other command. */
  accepts(frame: Uint8Array): string | null {
    const nl = frame.indexOf(10);
    const header = Buffer.from(frame.subarray(0, nl < 0 ? frame.length : nl))
      .toString('latin1')
      .trim();
    const [word, a, b, c] = header.split(' ');
    switch (word) {
      case 'DESIGN': {
        const size = Number(a);
        const copies = Number(b);
        if (!Number.isInteger(size) || size < 1 || !Number.isInteger(copies) || copies < 1 || !/^[0-9a-f]{64}$/.test(c ?? '')) return 'ERR DESIGN';
        this.open = { size, copies, sha256: c!, hash: createHash('sha256'), bytes: 0 };
        return 'READY';
      }
      case 'DATA': {
        if (!this.open) return 'ERR NO DESIGN';
        const body = frame.subarray(nl + 1);
        if (body.length !== Number(a)) return 'ERR LENGTH';
        if (this.open.bytes + body.length > this.open.size) return 'ERR TOO LONG';
        this.open.hash.update(body);
        this.open.bytes += body.length;
        return 'ACK';
      }
      case 'END': {
        if (!this.open) return 'ERR NO DESIGN';
        const got = this.open.hash.digest('hex');
        const ok = got === this.open.sha256 && this.open.bytes === this.open.size;
        this.printed.push({ sha256: got, bytes: this.open.bytes, copies: this.open.copies, ok });
        this.open = null;
        return ok ? `OK ${got}` : 'ERR CHECKSUM: the design received does not match its sha256';
      }
      case 'ABORT':
        this.open = null;
        return 'OK';
      default:
        return null;
    }
  }
}
