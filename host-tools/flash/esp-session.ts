/// <reference types="w3c-web-serial" />
// Talking to a chip's serial loader through esptool-js: connect and identify the chip, run the
// flasher stub at the requested rate, write images, and ask the chip for the MD5 of what it holds.
// The port is a W3C Web Serial SerialPort: the browser's own (navigator.serial) or, from Node,
// host-tools/serial/web-serial-port.ts; nothing here depends on which.
import { md5 } from '@noble/hashes/legacy';
import { bytesToHex } from '@noble/hashes/utils';
import { ESPError, ESPLoader, Transport, UnexpectedChipIdError, UnexpectedChipMagicError, type IEspLoaderTerminal } from 'esptool-js';
import { SerialPortOpenError } from '../serial/open-error';
import { FlashError } from './errors';
import type { FlashImage } from './firmware-images';
import type { FlashLog } from './flash-log';

/** The rate every ESP32-family ROM starts its UART at. */
export const ROM_BAUD = 115200;

/** A Web Serial port, and whether its DTR/RTS reach the chip (a pty's do not; false means press EN). */
export interface FlashPort {
  port: SerialPort;
  /** How messages name it: a path, or "the selected port". */
  label: string;
  signalsReachDevice(): boolean;
}

export interface ChipInfo {
  name: string;
  description: string;
  revision: number | null;
  features: string[];
  crystalMHz: number;
  /** aa:bb:cc:dd:ee:ff, as esptool prints it. */
  mac: string;
  flashSize: string | null;
}

export interface SessionOptions {
  baud: number;
  log: FlashLog;
  /** Chips the firmware is built for; any other is refused before anything is uploaded to it. */
  chips: string[];
}

/** esptool-js traces to console.log unconditionally in places (readLoop exit); keep stdout for JSON logs. */
class LoggedTransport extends Transport {
  constructor(
    device: SerialPort,
    private readonly log: FlashLog,
  ) {
    super(device, false, true);
  }

  override trace(message: string): void {
    this.log.trace({ esptool: message }, 'esptool trace');
  }
}

function terminalFor(log: FlashLog): IEspLoaderTerminal {
  let partial = '';
  return {
    clean: () => {},
    write: (text) => {
      partial += text;
    },
    writeLine: (text) => {
      const line = (partial + text).trim();
      partial = '';
      if (line !== '') log.debug({ esptool: line }, 'esptool');
    },
  };
}

function openFailure(e: SerialPortOpenError): FlashError {
  const code = e.reason === 'not-found' ? 'NO_PORT' : e.reason === 'busy' ? 'PORT_BUSY' : e.reason === 'permission' ? 'PORT_PERMISSION' : 'PORT_ERROR';
  return new FlashError(code, e.message);
}

/** Pads like esptool-js's writeFlash does (to 4 bytes with 0xFF), so the MD5 covers what it wrote. */
export function paddedImage(data: Uint8Array): Uint8Array {
  const rem = data.length % 4;
  if (rem === 0) return data;
  const out = new Uint8Array(data.length + 4 - rem).fill(0xff);
  out.set(data);
  return out;
}

export class EspSession {
  private constructor(
    private readonly port: FlashPort,
    private readonly transport: Transport,
    private readonly loader: ESPLoader,
    readonly chip: ChipInfo,
  ) {}

  /** The rate the stub actually runs at: the requested one, or 115200 after esptool-js fell back. */
  get baud(): number {
    return this.transport.baudrate;
  }

  get path(): string {
    return this.port.label;
  }

  static async open(port: FlashPort, options: SessionOptions): Promise<EspSession> {
    const path = port.label;
    const transport = new LoggedTransport(port.port, options.log);
    const loader = new ESPLoader({ transport, baudrate: options.baud, romBaudrate: ROM_BAUD, terminal: terminalFor(options.log) });
    try {
      await loader.detectChip('default_reset');
      if (!options.chips.includes(loader.chip.CHIP_NAME)) {
        throw new FlashError('WRONG_CHIP', `the device on ${path} is an ${loader.chip.CHIP_NAME}; this firmware is built for the ${options.chips.join(', ')}`);
      }
      const c = loader.chip;
      const revision = c.getChipRevision ? await c.getChipRevision(loader) : null;
      const info: ChipInfo = {
        name: c.CHIP_NAME,
        description: await c.getChipDescription(loader),
        revision,
        features: (await c.getChipFeatures(loader)).map((f) => f.trim()),
        crystalMHz: await c.getCrystalFreq(loader),
        mac: await c.readMac(loader),
        flashSize: null,
      };
      // esptool-js's main() minus its printing: the stub, the fast rate, then a flash sanity check.
      await loader.runStub();
      if (options.baud !== ROM_BAUD) await loader.changeBaud();
      const flashId = await loader.readFlashId();
      info.flashSize = loader.DETECTED_FLASH_SIZES[(flashId >> 16) & 0xff] ?? null;
      if (flashId === 0xffffff || flashId === 0) {
        throw new FlashError('FLASH_FAILED', `the ESP32 on ${path} cannot talk to its flash chip (flash id 0x${flashId.toString(16)})`);
      }
      return new EspSession(port, transport, loader, info);
    } catch (e) {
      if (port.port.connected) await transport.disconnect().catch((err: Error) => options.log.warn({ err }, 'closing the port after a failed connect'));
      if (e instanceof FlashError) throw e;
      if (e instanceof SerialPortOpenError) throw openFailure(e);
      if (e instanceof UnexpectedChipMagicError || e instanceof UnexpectedChipIdError) {
        throw new FlashError('WRONG_CHIP', `the device on ${path} is no chip esptool-js knows (${e.message})`);
      }
      if (e instanceof ESPError && /Failed to connect/i.test(e.message)) {
        const hint = port.signalsReachDevice()
          ? 'check the cable and that nothing else resets the board; without auto-reset, hold BOOT, press EN, and retry'
          : 'this port cannot reset the chip: hold BOOT, press EN, and retry';
        throw new FlashError('CHIP_NOT_DETECTED', `no ESP32 answered on ${path}: ${hint}`);
      }
      throw new FlashError('FLASH_FAILED', `talking to the ESP32 on ${path} failed: ${(e as Error).message}`);
    }
  }

  /** Writes the images (compressed, in order); `eraseAll` erases the whole chip first. */
  async write(images: FlashImage[], eraseAll: boolean, onProgress: (index: number, written: number, total: number) => void): Promise<void> {
    try {
      await this.loader.writeFlash({
        fileArray: images.map((i) => ({ data: i.data, address: i.offset })),
        flashMode: 'keep',
        flashFreq: 'keep',
        flashSize: 'keep',
        eraseAll,
        compress: true,
        reportProgress: onProgress,
      });
    } catch (e) {
      throw new FlashError('FLASH_FAILED', `writing flash on ${this.path} failed: ${(e as Error).message}`);
    }
  }

  /** Compares the chip's MD5 of each image's region with the image; throws on the first mismatch. */
  async verify(image: FlashImage): Promise<string> {
    const padded = paddedImage(image.data);
    const expected = bytesToHex(md5(padded));
    let actual: string;
    try {
      actual = await this.loader.flashMd5sum(image.offset, padded.length);
    } catch (e) {
      throw new FlashError('VERIFY_FAILED', `reading the MD5 of ${image.name} at 0x${image.offset.toString(16)} failed: ${(e as Error).message}`);
    }
    if (actual !== expected) {
      throw new FlashError('VERIFY_FAILED', `${image.name} at 0x${image.offset.toString(16)} reads back with MD5 ${actual}, expected ${expected}`);
    }
    return actual;
  }

  /** Reads flash through the stub's READ_FLASH. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    try {
      return await this.loader.readFlash(offset, length);
    } catch (e) {
      throw new FlashError('FLASH_FAILED', `reading ${length} bytes of flash at 0x${offset.toString(16)} failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.port.port.connected) await this.transport.disconnect();
  }
}
