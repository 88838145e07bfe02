// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) with zlib's calling convention:
// `previous` is a CRC already returned, so crc32(b, crc32(a)) === crc32(a ++ b).
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The CRC that NVS stores everywhere. ESP-IDF calls esp_rom_crc32_le(0xffffffff, ...) and its
 * generator zlib.crc32(data, 0xFFFFFFFF): seeding with 0xFFFFFFFF means the register starts at 0,
 * which is not the usual CRC-32 (that one is crc32(data) here).
 */
export function nvsCrc32(bytes: Uint8Array): number {
  return crc32(bytes, 0xffffffff);
}
