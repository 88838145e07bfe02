// Short rotating claim codes that an unbound device shows on its screen, for sites that want
// proof of presence. A code is valid until it is used or the device says hello again.
import { randomInt } from 'node:crypto';

// No 0/O, 1/I/L: codes are read off a small screen and typed on a phone.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const LENGTH = 6;
const CODES = ALPHABET.length ** LENGTH;

/** A uniform code from one draw: every unbound device's hello rotates its code, a fleet's all at once. */
function randomCode(): string {
  let n = randomInt(CODES);
  let code = '';
  for (let i = 0; i < LENGTH; i++) {
    code += ALPHABET[n % ALPHABET.length];
    n = Math.floor(n / ALPHABET.length);
  }
  return code;
}

export class ClaimCodes {
  private readonly byDevice = new Map<string, string>();
  private readonly byCode = new Map<string, string>();

  /** onChange hears every code this node issues or drops (a cluster node shares them). */
  constructor(private readonly onChange?: (device: string, code: string | null) => void) {}

  rotate(device: string): string {
    let code: string;
    do code = randomCode();
    while (this.byCode.has(code));
    this.adopt(device, code);
    this.onChange?.(device, code);
    return code;
  }

  /** Records a code (or its end, null) without announcing it: one another node issued. */
  adopt(device: string, code: string | null): void {
    const old = this.byDevice.get(device);
    if (old !== undefined) this.byCode.delete(old);
    this.byDevice.delete(device);
    if (code === null) return;
    this.byDevice.set(device, code);
    this.byCode.set(code, device);
  }

  /** The device's current code, if it has one, left as it is. */
  codeOf(device: string): string | undefined {
    return this.byDevice.get(device);
  }

  deviceFor(code: string): string | undefined {
    return this.byCode.get(code.trim().toUpperCase());
  }

  drop(device: string): void {
    if (!this.byDevice.has(device)) return;
    this.adopt(device, null);
    this.onChange?.(device, null);
  }
}
