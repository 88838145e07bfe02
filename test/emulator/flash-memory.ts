// A NOR SPI flash chip: erased bytes read 0xFF, programming can only clear bits (new = old AND
// data), and only erasing (4 KiB sectors, 64 KiB blocks, or the whole chip) sets them again. A
// writer that forgets to erase is caught because the bytes come out ANDed, as on the real part.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export const SECTOR_SIZE = 0x1000;
export const BLOCK_SIZE = 0x10000;
export const DEFAULT_FLASH_SIZE = 4 * 1024 * 1024;

/** A failed SPI operation (out of range, or the injected fault). */
export class FlashFault extends Error {
  override name = 'FlashFault';
}

export class FlashMemory {
  readonly bytes: Uint8Array;
  /** Fault injection: programming any byte at or above this address fails, as a worn or locked region would. */
  failWritesFrom: number | null = null;

  constructor(size = DEFAULT_FLASH_SIZE) {
    this.bytes = new Uint8Array(size).fill(0xff);
  }

  get size(): number {
    return this.bytes.length;
  }

  private check(addr: number, len: number, what: string): void {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > this.size) {
      throw new FlashFault(`${what} 0x${addr.toString(16)}+0x${len.toString(16)} is outside the ${this.size} byte flash`);
    }
  }

  eraseSector(addr: number): void {
    if (addr % SECTOR_SIZE !== 0) throw new FlashFault(`sector erase at unaligned 0x${addr.toString(16)}`);
    this.check(addr, SECTOR_SIZE, 'sector erase');
    this.bytes.fill(0xff, addr, addr + SECTOR_SIZE);
  }

  eraseBlock(addr: number): void {
    if (addr % BLOCK_SIZE !== 0) throw new FlashFault(`block erase at unaligned 0x${addr.toString(16)}`);
    this.check(addr, BLOCK_SIZE, 'block erase');
    this.bytes.fill(0xff, addr, addr + BLOCK_SIZE);
  }

  eraseChip(): void {
    this.bytes.fill(0xff);
  }

  program(addr: number, data: Uint8Array): void {
    this.check(addr, data.length, 'write');
    if (this.failWritesFrom !== null && addr + data.length > this.failWritesFrom) {
      throw new FlashFault(`write at 0x${addr.toString(16)} failed (injected fault from 0x${this.failWritesFrom.toString(16)})`);
    }
    for (let i = 0; i < data.length; i++) this.bytes[addr + i]! &= data[i]!;
  }

  read(addr: number, len: number): Uint8Array {
    this.check(addr, len, 'read');
    return this.bytes.slice(addr, addr + len);
  }

  md5(addr: number, len: number): Buffer {
    return createHash('md5').update(this.read(addr, len)).digest();
  }

  dump(path: string): void {
    writeFileSync(path, this.bytes);
  }
}

/**
 * Erases sectors one at a time from `start` as a write proceeds, switching to 64 KiB block erases
 * where the next sector is block-aligned and at least a block remains: the flasher stub's
 * start_next_erase (esptool-legacy-flasher-stub stub_write_flash.c).
 */
export class EraseCursor {
  private next: number;
  private remaining: number;

  constructor(
    private readonly flash: FlashMemory,
    offset: number,
    size: number,
  ) {
    this.next = Math.floor(offset / SECTOR_SIZE) * SECTOR_SIZE;
    const end = Math.ceil((offset + size) / SECTOR_SIZE) * SECTOR_SIZE;
    this.remaining = (end - this.next) / SECTOR_SIZE;
  }

  /** Erases until every sector below `addr` is erased. */
  eraseTo(addr: number): void {
    while (this.remaining > 0 && this.next < addr) {
      if (this.remaining >= BLOCK_SIZE / SECTOR_SIZE && this.next % BLOCK_SIZE === 0) {
        this.flash.eraseBlock(this.next);
        this.next += BLOCK_SIZE;
        this.remaining -= BLOCK_SIZE / SECTOR_SIZE;
      } else {
        this.flash.eraseSector(this.next);
        this.next += SECTOR_SIZE;
        this.remaining -= 1;
      }
    }
  }
}
