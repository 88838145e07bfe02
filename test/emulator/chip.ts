// The registers esptool-js reads and writes on an ESP32 (addresses from esptool-js 0.7.0
// lib/targets/esp32.js and esploader.js): the chip-detect magic, eFuse words (MAC, package,
// revision), the APB date, the UART clock divider, and the SPI peripheral's user-command registers
// through which the host reads the flash JEDEC id. Anything else reads as 0 and is logged by the loader.
export const CHIP_DETECT_MAGIC_REG = 0x40001000;
const EFUSE_RD_REG_BASE = 0x3ff5a000;
const APB_CTRL_DATE_REG = 0x3ff66000 + 0x7c;
const UART_CLKDIV_REG = 0x3ff40014;
const SPI_REG_BASE = 0x3ff42000;
const SPI_CMD_REG = SPI_REG_BASE + 0x00;
const SPI_USR_REG = SPI_REG_BASE + 0x1c;
const SPI_USR2_REG = SPI_REG_BASE + 0x24;
const SPI_MISO_DLEN_REG = SPI_REG_BASE + 0x2c;
const SPI_W0_REG = SPI_REG_BASE + 0x80;
const SPI_CMD_USR = 1 << 18;
const SPI_USR_MISO = 1 << 28;
const SPIFLASH_RDID = 0x9f;
const XTAL_HZ = 40_000_000;

export interface ChipIdentity {
  name: string;
  magic: number;
  /** GET_SECURITY_INFO payload; null where the ROM does not know the command (ESP32). */
  securityInfo: Uint8Array | null;
}

function securityInfo(chipId: number): Uint8Array {
  // 32-bit flags, 1 byte flash_crypt_cnt, 7 key purposes, 32-bit chip id, 32-bit eco version.
  const out = new Uint8Array(20);
  new DataView(out.buffer).setUint32(12, chipId, true);
  return out;
}

export const CHIPS: Record<string, ChipIdentity> = {
  esp32: { name: 'ESP32', magic: 0x00f01d83, securityInfo: null },
  // Used to test the "wrong chip" path: a chip that identifies itself through GET_SECURITY_INFO.
  esp32c3: { name: 'ESP32-C3', magic: 0x1b31506f, securityInfo: securityInfo(5) },
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
  private readonly readOnly = new Map<number, number>();
  /** The baud rate the chip's UART runs at; the ROM's clock divider register follows it. */
  uartBaud = 115200;

  constructor(private readonly config: ChipConfig) {
    const m = config.mac;
    this.readOnly.set(CHIP_DETECT_MAGIC_REG, config.identity.magic);
    // ESP32-D0WD-V3 rev 3: word3 rev bit0 (bit 15) and package 1 (bits 9..11), word5 rev bit1
    // (bit 20), APB date bit 31; word4 carries an ADC reference; coding scheme none.
    const efuse = [0, ((m[2]! << 24) | (m[3]! << 16) | (m[4]! << 8) | m[5]!) >>> 0, (m[0]! << 8) | m[1]!, 0x8200, 0x1100, 0x00100000, 0];
    efuse.forEach((word, i) => this.readOnly.set(EFUSE_RD_REG_BASE + 4 * i, word));
    this.readOnly.set(APB_CTRL_DATE_REG, 0x96042000);
  }

  isModelled(addr: number): boolean {
    return this.readOnly.has(addr) || addr === UART_CLKDIV_REG || (addr >= SPI_REG_BASE && addr < SPI_REG_BASE + 0x100);
  }

  read(addr: number): number {
    const fixed = this.readOnly.get(addr);
    if (fixed !== undefined) return fixed;
    if (addr === UART_CLKDIV_REG) return Math.floor(XTAL_HZ / this.uartBaud) & 0xfffff;
    return this.regs.get(addr) ?? 0;
  }

  write(addr: number, value: number): void {
    if (this.readOnly.has(addr)) return;
    this.regs.set(addr, value >>> 0);
    if (addr === SPI_CMD_REG && (value & SPI_CMD_USR) !== 0) this.runSpiUserCommand();
  }

  private runSpiUserCommand(): void {
    const command = this.read(SPI_USR2_REG) & 0xffff;
    let result = 0;
    if (command === SPIFLASH_RDID) result = this.config.jedecId;
    if ((this.read(SPI_USR_REG) & SPI_USR_MISO) !== 0) {
      const bits = (this.read(SPI_MISO_DLEN_REG) & 0xffffff) + 1;
      if (bits < 32) result &= (1 << bits) - 1;
    }
    this.regs.set(SPI_W0_REG, result >>> 0);
    // The transaction completes at once: the host polls until the USR bit clears.
    this.regs.set(SPI_CMD_REG, this.read(SPI_CMD_REG) & ~SPI_CMD_USR);
  }
}
