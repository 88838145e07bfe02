// SLIP framing as the ESP32 ROM loader and the flasher stub use it (esptool serial protocol,
// "Low Level Protocol"): frames start and end with 0xC0; 0xC0 and 0xDB inside a frame are sent
// as 0xDB 0xDC and 0xDB 0xDD.
export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

export function slipEncode(payload: Uint8Array): Buffer {
  const out: number[] = [SLIP_END];
  for (const b of payload) {
    if (b === SLIP_END) out.push(SLIP_ESC, SLIP_ESC_END);
    else if (b === SLIP_ESC) out.push(SLIP_ESC, SLIP_ESC_ESC);
    else out.push(b);
  }
  out.push(SLIP_END);
  return Buffer.from(out);
}

export type SlipEvent =
  | { kind: 'frame'; payload: Uint8Array }
  /** Bytes seen outside any frame: the loader ignores them (line noise, a banner echo). */
  | { kind: 'noise'; bytes: number }
  /** 0xDB followed by something other than 0xDC/0xDD: the frame is dropped, as the stub does. */
  | { kind: 'bad-escape'; byte: number };

/** Incremental decoder: feed it whatever the UART delivered, get whole frames back. */
export class SlipDecoder {
  private frame: number[] | null = null;
  private escaping = false;
  private broken = false;

  push(bytes: Uint8Array): SlipEvent[] {
    const events: SlipEvent[] = [];
    let noise = 0;
    for (const b of bytes) {
      if (this.frame === null) {
        if (b === SLIP_END) this.frame = [];
        else noise++;
        continue;
      }
      if (b === SLIP_END) {
        // Back-to-back 0xC0 (end of one frame, start of the next) is not an empty frame.
        if (this.frame.length > 0 && !this.broken) events.push({ kind: 'frame', payload: Uint8Array.from(this.frame) });
        this.frame = this.frame.length > 0 || this.broken ? null : this.frame;
        this.broken = false;
        this.escaping = false;
        continue;
      }
      if (this.broken) continue;
      if (this.escaping) {
        this.escaping = false;
        if (b === SLIP_ESC_END) this.frame.push(SLIP_END);
        else if (b === SLIP_ESC_ESC) this.frame.push(SLIP_ESC);
        else {
          this.broken = true;
          events.push({ kind: 'bad-escape', byte: b });
        }
      } else if (b === SLIP_ESC) this.escaping = true;
      else this.frame.push(b);
    }
    if (noise > 0) events.unshift({ kind: 'noise', bytes: noise });
    return events;
  }

  /** Forget a half-received frame, as a chip reset does. */
  reset(): void {
    this.frame = null;
    this.escaping = false;
    this.broken = false;
  }
}
