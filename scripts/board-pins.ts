// Pins each board already uses for something else, so build:firmware can refuse a UART or LED
// on one of them before anything is compiled. From the Moddable SDK's board definitions
// (build/devices/esp32/targets/<board>/manifest.json) and Espressif's module datasheets.

/** GPIO 6–11 drive the SPI flash on every ESP32 module. */
const FLASH: Record<number, string> = { 6: 'SPI flash', 7: 'SPI flash', 8: 'SPI flash', 9: 'SPI flash', 10: 'SPI flash', 11: 'SPI flash' };
/** On WROVER modules (PSRAM) GPIO 16 and 17 are the PSRAM's clock and chip select. */
const PSRAM: Record<number, string> = { 16: 'PSRAM (WROVER module)', 17: 'PSRAM (WROVER module)' };
const M5STACK: Record<number, string> = {
  14: 'display CS',
  18: 'display SCK',
  19: 'display MISO',
  21: 'I2C SDA',
  22: 'I2C SCL',
  23: 'display MOSI',
  25: 'speaker',
  27: 'display DC',
  32: 'display backlight',
  33: 'display reset',
};

export const RESERVED_PINS: Record<string, Record<number, string>> = {
  esp32: FLASH,
  'esp32/moddable_two': {
    ...FLASH,
    2: 'display DC',
    12: 'display MISO',
    13: 'display MOSI',
    14: 'display SCK',
    15: 'display CS',
    18: 'display backlight',
    21: 'touch SDA',
    22: 'touch SCL',
  },
  'esp32/m5stack': { ...FLASH, ...M5STACK },
  'esp32/m5stack_fire': { ...FLASH, ...PSRAM, ...M5STACK },
  // ESP32-S3: GPIO 26–32 are the SPI flash (and octal PSRAM on some modules).
  'esp32/esp32s3': { 26: 'SPI flash', 27: 'SPI flash', 28: 'SPI flash', 29: 'SPI flash', 30: 'SPI flash', 31: 'SPI flash', 32: 'SPI flash' },
  // ESP32-C3: GPIO 12–17 are the SPI flash.
  'esp32/esp32c3': { 12: 'SPI flash', 13: 'SPI flash', 14: 'SPI flash', 15: 'SPI flash', 16: 'SPI flash', 17: 'SPI flash' },
  lin: {},
};

/** On the original ESP32, GPIO 34–39 are inputs only. */
const INPUT_ONLY = [34, 35, 36, 37, 38, 39];

export type BoardConfig = Record<string, unknown>;

function pin(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '' || value === 'none') return undefined;
  const n = Number(value);
  return Number.isInteger(n) ? n : undefined;
}

/** Every reason the board's pin settings cannot work; empty when they can. */
export function pinConflicts(target: string, config: BoardConfig): string[] {
  const reserved = RESERVED_PINS[target] ?? {};
  const problems: string[] = [];
  const used = new Map<number, string>();
  for (const [key, what] of [
    ['uartReceive', 'UART RX'],
    ['uartTransmit', 'UART TX'],
    ['led', 'status LED'],
  ] as const) {
    const p = pin(config[key]);
    if (p === undefined) continue;
    if (target === 'lin') {
      problems.push(`${key}=${p}: the lin platform has no GPIO${key === 'led' ? '' : '; give the UART as uartDevice=/dev/ttyUSB0'}`);
      continue;
    }
    if (reserved[p] !== undefined) problems.push(`${key}=${p}: GPIO ${p} is the ${reserved[p]} on ${target}`);
    if (key !== 'uartReceive' && !target.startsWith('esp32/esp32') && INPUT_ONLY.includes(p)) problems.push(`${key}=${p}: GPIO ${p} is input-only`);
    const other = used.get(p);
    if (other !== undefined) problems.push(`${key}=${p}: GPIO ${p} is also the ${other}`);
    used.set(p, what);
  }
  return problems;
}
