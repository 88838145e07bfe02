// How DTR and RTS reach the chip on a typical ESP32 board (DevKitC and most clones): two
// transistors cross-coupled so that EN is pulled low only while RTS is asserted and DTR is not,
// and IO0 only while DTR is asserted and RTS is not (esptool docs, "Boot Mode Selection",
// automatic bootloader). The chip leaves reset on EN's rising edge and samples IO0 then:
// low boots the UART download ROM, high boots from SPI flash.
export interface HostLines {
  dtr: boolean;
  rts: boolean;
}

export interface Pins {
  /** true = high */
  en: boolean;
  io0: boolean;
}

export function pinsFor(lines: HostLines): Pins {
  return { en: !(lines.rts && !lines.dtr), io0: !(lines.dtr && !lines.rts) };
}

export type ResetEdge = { kind: 'reset-asserted' } | { kind: 'boot'; mode: 'download' | 'spi' };

export class ResetCircuit {
  private pins: Pins;

  constructor(initial: HostLines = { dtr: false, rts: false }) {
    this.pins = pinsFor(initial);
  }

  /** Applies new line levels; reports EN falling (chip held in reset) or rising (chip boots). */
  apply(lines: HostLines): ResetEdge | null {
    const next = pinsFor(lines);
    const prev = this.pins;
    this.pins = next;
    if (prev.en && !next.en) return { kind: 'reset-asserted' };
    if (!prev.en && next.en) return { kind: 'boot', mode: next.io0 ? 'spi' : 'download' };
    return null;
  }

  get inReset(): boolean {
    return !this.pins.en;
  }
}
