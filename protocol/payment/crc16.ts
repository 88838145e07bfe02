// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor): the checksum an
// EMVCo merchant-presented QR ends with (tag 63). Check value: "123456789" → 29B1.

export function crc16CcittFalse(text: string): number {
  let crc = 0xffff;
  for (let i = 0; i < text.length; i++) {
    crc ^= (text.charCodeAt(i) & 0xff) << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** As the four upper-case hex digits tag 63 carries. */
export function crc16Hex(text: string): string {
  const hex = crc16CcittFalse(text).toString(16).toUpperCase();
  return '0000'.slice(hex.length) + hex;
}
