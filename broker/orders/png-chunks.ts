// PNG chunk surgery for the print format (docs/architecture.md, "Walk-up orders"). sharp writes a
// density twice: as pHYs and inside an eXIf chunk. The print keeps pHYs (its DPI) and loses the
// eXIf, so what a machine receives has no EXIF at all.

const SIGNATURE_BYTES = 8;

/** The PNG without its chunks of the given types; every other chunk, CRC included, is kept as is. */
export function withoutPngChunks(png: Buffer, types: readonly string[]): Buffer {
  const kept: Buffer[] = [png.subarray(0, SIGNATURE_BYTES)];
  for (let at = SIGNATURE_BYTES; at < png.length; ) {
    if (at + 8 > png.length) throw new Error('truncated PNG chunk header');
    const end = at + 12 + png.readUInt32BE(at);
    if (end > png.length) throw new Error('truncated PNG chunk');
    if (!types.includes(png.toString('latin1', at + 4, at + 8))) kept.push(png.subarray(at, end));
    at = end;
  }
  return Buffer.concat(kept);
}
