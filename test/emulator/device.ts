// One emulated ESP32-family board (ESP32, S3 or C3: chip.ts) as its USB-serial port sees it: reset circuit, boot ROM, the loaders,
// 4 MB of flash, and the UART line rate. It has no I/O of its own: bytes from the host go in
// through receive(), bytes to the host and log events come out through the callbacks.
import { ChipRegisters, type ChipConfig } from './chip';
import { FlashMemory } from './flash-memory';
import { Loader } from './loader';
import { slipEncode, SlipDecoder } from './slip';
import { ResetCircuit, type HostLines } from './strapping';

export interface DeviceConfig extends ChipConfig {
  flashSize: number;
  /** Where the board is when the emulator starts: running its firmware, or already in the download ROM. */
  initial: 'app' | 'download';
  failWritesFrom: number | null;
  /** The fastest rate the (emulated) USB-serial bridge and cable carry; faster garbles every byte. */
  maxBaud: number;
  /** What the firmware prints on its console after an SPI boot, if its image is in flash. */
  appOutput: string;
}

export interface DeviceIo {
  write(bytes: Buffer): void;
  log(event: Record<string, unknown>): void;
}

const IMAGE_MAGIC = 0xe9;
/** The console rate of the ROM and of firmware built with the default configuration. */
export const CONSOLE_BAUD = 115200;

export class EmulatedDevice {
  readonly flash: FlashMemory;
  private readonly regs: ChipRegisters;
  private readonly circuit = new ResetCircuit();
  private readonly decoder = new SlipDecoder();
  private state: 'reset' | 'download' | 'app';
  private loader: Loader | null = null;
  /** Bumped on every reset, so work queued for the previous boot is dropped. */
  private generation = 0;
  private queue: Promise<void> = Promise.resolve();
  private hostBaud: number | null = null;
  private chipBaud = CONSOLE_BAUD;
  /** The ROM measures the host's rate from SYNC until told a rate with CHANGE_BAUDRATE. */
  private autobaud = true;
  private garbled = false;

  constructor(
    private readonly config: DeviceConfig,
    private readonly io: DeviceIo,
  ) {
    this.flash = new FlashMemory(config.flashSize);
    this.flash.failWritesFrom = config.failWritesFrom;
    this.regs = new ChipRegisters(config);
    this.state = config.initial;
    if (config.initial === 'download') this.enterDownload(false);
  }

  get mode(): string {
    return this.state === 'download' ? (this.loader?.mode ?? 'rom') : this.state;
  }

  setLines(lines: HostLines): void {
    this.io.log({ ev: 'signals', dtr: lines.dtr, rts: lines.rts });
    const edge = this.circuit.apply(lines);
    if (!edge) return;
    this.generation++;
    this.decoder.reset();
    this.loader = null;
    if (edge.kind === 'reset-asserted') {
      this.state = 'reset';
      this.io.log({ ev: 'reset' });
      return;
    }
    if (edge.mode === 'download') this.enterDownload(true);
    else this.bootFromFlash();
  }

  setHostBaud(baud: number): void {
    this.hostBaud = baud;
    this.io.log({ ev: 'host-baud', baud });
  }

  receive(bytes: Buffer): void {
    if (this.state !== 'download' || !this.loader) {
      this.io.log({ ev: 'ignored-bytes', state: this.state, bytes: bytes.length });
      return;
    }
    if (!this.linkOk()) {
      this.noteGarbled('in', bytes.length);
      return;
    }
    for (const event of this.decoder.push(bytes)) {
      if (event.kind === 'noise') this.io.log({ ev: 'noise', bytes: event.bytes });
      else if (event.kind === 'bad-escape') this.io.log({ ev: 'bad-escape', byte: event.byte });
      else {
        const gen = this.generation;
        const loader = this.loader;
        this.queue = this.queue.then(async () => {
          if (gen === this.generation) await loader.handle(event.payload);
        });
      }
    }
  }

  /** Resolves when every frame received so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  private linkOk(): boolean {
    if (this.hostBaud === null) return true;
    if (this.hostBaud > this.config.maxBaud) return false;
    const adapting = this.state === 'download' && this.loader?.mode === 'rom' && this.autobaud;
    return adapting || this.hostBaud === this.chipBaud;
  }

  private noteGarbled(direction: 'in' | 'out', bytes: number): void {
    if (!this.garbled) this.io.log({ ev: 'garbled', direction, bytes, hostBaud: this.hostBaud, chipBaud: this.chipBaud });
    this.garbled = true;
  }

  private output(bytes: Buffer): void {
    if (!this.linkOk()) return this.noteGarbled('out', bytes.length);
    this.garbled = false;
    this.io.write(bytes);
  }

  private enterDownload(announce: boolean): void {
    this.state = 'download';
    this.chipBaud = CONSOLE_BAUD;
    this.autobaud = true;
    const gen = this.generation;
    const loader: Loader = new Loader(this.config.identity, this.regs, this.flash, {
      send: (payload) => {
        if (gen === this.generation) this.output(slipEncode(payload));
      },
      log: (event) => this.io.log(event),
      autobaud: () => {
        if (this.autobaud && this.hostBaud !== null) this.chipBaud = this.hostBaud;
      },
      setBaud: (baud) => {
        this.chipBaud = baud;
        this.autobaud = false;
        this.regs.uartBaud = baud;
        this.io.log({ ev: 'chip-baud', baud });
      },
      leave: (how) => {
        this.io.log({ ev: 'leave-loader', how });
        this.generation++;
        this.loader = null;
        this.bootFromFlash();
      },
    });
    this.loader = loader;
    this.regs.uartBaud = CONSOLE_BAUD;
    this.io.log({ ev: 'boot', mode: 'download' });
    if (announce) this.output(Buffer.from(this.config.identity.banner.download));
  }

  private bootFromFlash(): void {
    this.state = 'app';
    this.chipBaud = CONSOLE_BAUD;
    const header = this.flash.read(this.config.identity.bootloaderOffset, 4);
    const valid = header[0] === IMAGE_MAGIC;
    this.io.log({ ev: 'boot', mode: 'spi', bootloader: valid });
    let text = this.config.identity.banner.spi;
    if (valid) text += this.config.appOutput;
    else text += `invalid header: 0x${Buffer.from(header).readUInt32LE(0).toString(16).padStart(8, '0')}\r\n`;
    this.output(Buffer.from(text));
  }
}
