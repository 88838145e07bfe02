// What a USB serial port's vendor and product id say about the board behind it, for listing ports
// (`npm run flash -- --port auto`, the web Flash page). Espressif's own ids name the chip family;
// a USB-UART bridge only suggests a board that usually carries an ESP32. Runs in the browser too.
const GUESSES: Array<{ vid: number; pid?: number; guess: string }> = [
  { vid: 0x303a, pid: 0x1001, guess: 'ESP32-S3 or ESP32-C3 (its own USB-Serial/JTAG)' },
  { vid: 0x303a, pid: 0x0009, guess: 'ESP32-S3 (its own USB-OTG)' },
  { vid: 0x303a, pid: 0x0002, guess: 'ESP32-S2 (its own USB-OTG)' },
  { vid: 0x303a, guess: 'an Espressif chip' },
  { vid: 0x10c4, pid: 0xea60, guess: 'CP210x bridge: likely an ESP32 board' },
  { vid: 0x1a86, pid: 0x7523, guess: 'CH340 bridge: likely an ESP32 board' },
  { vid: 0x1a86, pid: 0x55d4, guess: 'CH9102 bridge: likely an ESP32 board' },
  { vid: 0x0403, guess: 'FTDI bridge: likely an ESP32 board (ESP-WROVER-KIT, ESP-Prog)' },
];

export function chipGuess(vid: number | undefined, pid: number | undefined): string {
  if (vid === undefined) return 'not a USB device';
  return GUESSES.find((g) => g.vid === vid && (g.pid === undefined || g.pid === pid))?.guess ?? 'unknown USB serial device';
}

export function usbIdText(vid: number | undefined, pid: number | undefined): string {
  const h = (n: number | undefined): string => (n === undefined ? '????' : n.toString(16).padStart(4, '0'));
  return `${h(vid)}:${h(pid)}`;
}
