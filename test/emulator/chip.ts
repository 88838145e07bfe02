// The registers esptool-js reads and writes on each chip it is asked to flash, as that chip's ROM
// answers them (addresses and bit fields from esptool-js 0.7.0 lib/targets/esp32.js, esp32s3.js,
// esp32c3.js and esploader.js): the chip-detect magic, GET_SECURITY_INFO's chip id (how esptool-js
// tells the S3 and C3 apart; the ESP32 ROM lacks that command), eFuse words (MAC, package,
// revision), the UART clock divider, and the SPI peripheral's user-command registers through which
// the host reads the flash JEDEC id. Anything else reads as 0 and is logged by the loader.
export const CHIP_DETECT_MAGIC_REG = 0x40001000;
const SPI_CMD_USR = 1 << 18;
const SPI_USR_MISO = 1 << 28;
const SPIFLASH_RDID = 0x9f;
const XTAL_HZ = 40_000_000;

/** Where a chip's SPI flash controller keeps the registers of a user command (base + offsets). */
interface SpiLayout {
  base: number;
  usr: number;
  usr2: number;
  misoDlen: number;
  w0: number;
}

export interface ChipIdentity {
  name: string;
  magic: number;
  /** GET_SECURITY_INFO payload; null where the ROM does not know the command (ESP32). */
  securityInfo: Uint8Array | null;
  /** Where the ROM looks for the second-stage bootloader. */
  bootloaderOffset: number;
  /** Fixed registers (eFuse words, dates, the UART buffer in use) for a chip with this MAC. */
  fixedRegisters(mac: Uint8Array): Map<number, number>;
  uartClkdivReg: number;
  spi: SpiLayout;
  /** What the ROM prints after a reset into download mode, and into SPI boot. */
  banner: { download: string; spi: string };
}

function securityInfo(chipId: number): Uint8Array {
  // 32-bit flags, 1 byte flash_crypt_cnt, 7 key purposes, 32-bit chip id, 32-bit eco version.
  const out = new Uint8Array(20);
  new DataView(out.buffer).setUint32(12, chipId, true);
  return out;
}

/** MAC words as the eFuse block holds them: the low four bytes, then the high two. */
function macWords(m: Uint8Array): [number, number] {
  return [((m[2]! << 24) | (m[3]! << 16) | (m[4]! << 8) | m[5]!) >>> 0, (m[0]! << 8) | m[1]!];
}

const ESP32_BANNER = 'ets Jul 29 2019 12:21:46\r\n\r\n';

export const CHIPS: Record<string, ChipIdentity> = {
  esp32: {
    name: 'ESP32',
    magic: 0x00f01d83,
    securityInfo: null,
    bootloaderOffset: 0x1000,
    fixedRegisters(mac) {
      const regs = new Map<number, number>();
      // ESP32-D0WD-V3 rev 3: word3 rev bit0 (bit 15) and package 1 (bits 9..11), word5 rev bit1
      // (bit 20), APB date bit 31; word4 carries an ADC reference; coding scheme none.
      const [low, high] = macWords(mac);
      for (const [i, word] of [0, low, high, 0x8200, 0x1100, 0x00100000, 0].entries()) regs.set(0x3ff5a000 + 4 * i, word);
      regs.set(0x3ff66000 + 0x7c, 0x96042000);
      return regs;
    },
    uartClkdivReg: 0x3ff40014,
    spi: { base: 0x3ff42000, usr: 0x1c, usr2: 0x24, misoDlen: 0x2c, w0: 0x80 },
    banner: {
      download: `${ESP32_BANNER}rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n`,
      spi: `${ESP32_BANNER}rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nconfigsip: 0, SPIWP:0xee\r\n`,
    },
  },
  esp32s3: {
    name: 'ESP32-S3',
    magic: 0x00000009,
    securityInfo: securityInfo(9),
    bootloaderOffset: 0x0,
    fixedRegisters(mac) {
      const block1 = 0x60007000 + 0x44;
      const block2 = 0x60007000 + 0x5c;
      const [low, high] = macWords(mac);
      // ESP32-S3 (QFN56) v0.2: package 0, minor revision 2 in word3 bits 18..20, major 0 in word5,
      // block version 1.0 (so not the v0.0 eFuse layout esptool-js works around); no embedded
      // flash or PSRAM. UARTDEV_BUF_NO 0: the ROM talks over UART0, not its USB port.
      return new Map([
        [block1, low],
        [block1 + 4, high],
        [block1 + 12, 2 << 18],
        [block1 + 16, 0],
        [block1 + 20, 0],
        [block2 + 16, 1],
        [0x3fcef14c, 0],
        [0x60000080, 0x2101200],
        // esptool-js 0.7.0's S3 target inherits the ESP32's getChipRevision(), which reads these
        // ESP32 eFuse and APB-date addresses; nothing there is documented for the S3, modelled as 0.
        [0x3ff5a00c, 0],
        [0x3ff5a014, 0],
        [0x3ff6607c, 0],
      ]);
    },
    uartClkdivReg: 0x60000014,
    spi: { base: 0x60002000, usr: 0x18, usr2: 0x20, misoDlen: 0x28, w0: 0x58 },
    banner: {
      download: 'ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n',
      spi: 'ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\nSPIWP:0xee\r\n',
    },
  },
  esp32c3: {
    name: 'ESP32-C3',
    magic: 0x1b31506f,
    securityInfo: securityInfo(5),
    bootloaderOffset: 0x0,
    fixedRegisters(mac) {
      const block1 = 0x60008800 + 0x44;
      const [low, high] = macWords(mac);
      // ESP32-C3 (QFN32) v0.4: package 0, minor revision 4 in word3 bits 18..20, major 0.
      return new Map([
        [block1, low],
        [block1 + 4, high],
        [block1 + 12, 4 << 18],
        [block1 + 16, 0],
        [block1 + 20, 0],
        [0x6000007c, 0x2007210],
      ]);
    },
    uartClkdivReg: 0x60000014,
    spi: { base: 0x60002000, usr: 0x18, usr2: 0x20, misoDlen: 0x28, w0: 0x58 },
    banner: {
      download: 'ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\nrst:0x1 (POWERON),boot:0x8 (DOWNLOAD(USB/UART0/1))\r\nwaiting for download\r\n',
      spi: 'ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\nrst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\r\nSPIWP:0xee\r\n',
    },
  },
};

/** Winbond W25Q32: manufacturer 0xEF, type 0x40, capacity code 0x16 (4 MB), as RDID returns it. */
export const W25Q32_JEDEC_ID = 0x1640ef;

export interface ChipConfig {
  identity: ChipIdentity;
  mac: Uint8Array;
  jedecId: number;
}

export function parseMac(text: string): Uint8Array {
  const hex = text.replace(/[:\-.]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new Error(`MAC must be 12 hex digits, got ${JSON.stringify(text)}`);
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

export class ChipRegisters {
  private readonly regs = new Map<number, number>();
  private readonly readOnly: Map<number, number>;
  /** The baud rate the chip's UART runs at; the ROM's clock divider register follows it. */
  uartBaud = 115200;

  constructor(private readonly config: ChipConfig) {
    this.readOnly = config.identity.fixedRegisters(config.mac);
    this.readOnly.set(CHIP_DETECT_MAGIC_REG, config.identity.magic);
  }

  private get spi(): SpiLayout {
    return this.config.identity.spi;
  }

  isModelled(addr: number): boolean {
    return this.readOnly.has(addr) || addr === this.config.identity.uartClkdivReg || (addr >= this.spi.base && addr < this.spi.base + 0x100);
  }

  read(addr: number): number {
    const fixed = this.readOnly.get(addr);
    if (fixed !== undefined) return fixed;
    if (addr === this.config.identity.uartClkdivReg) return Math.floor(XTAL_HZ / this.uartBaud) & 0xfffff;
    return this.regs.get(addr) ?? 0;
  }

  write(addr: number, value: number): void {
    if (this.readOnly.has(addr)) return;
    this.regs.set(addr, value >>> 0);
    if (addr === this.spi.base && (value & SPI_CMD_USR) !== 0) this.runSpiUserCommand();
  }

  private runSpiUserCommand(): void {
    const { base, usr, usr2, misoDlen, w0 } = this.spi;
    const command = this.read(base + usr2) & 0xffff;
    let result = 0;
    if (command === SPIFLASH_RDID) result = this.config.jedecId;
    if ((this.read(base + usr) & SPI_USR_MISO) !== 0) {
      const bits = (this.read(base + misoDlen) & 0xffffff) + 1;
      if (bits < 32) result &= (1 << bits) - 1;
    }
    this.regs.set(base + w0, result >>> 0);
    // The transaction completes at once: the host polls until the USR bit clears.
    this.regs.set(base, this.read(base) & ~SPI_CMD_USR);
  }
}
