// Backoff jitter seeded from what differs between devices. On some platforms Math.random starts
// from the same state on every boot (Moddable's lin build does), so a fleet that reboots
// together would otherwise retry in lockstep: the seed mixes the MAC, the boot count and
// whatever randomness the platform has.

/** FNV-1a over the text's UTF-16 code units. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Uniform in [0, 1), from mulberry32 seeded by the device's identity and one draw of `entropy`. */
export function deviceRandom(mac: string, boot: number, entropy: () => number): () => number {
  let state = (hash(`${mac}/${boot}`) ^ Math.floor(entropy() * 0x100000000)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}
