// Incremental zlib inflate for FLASH_DEFL_DATA: the loader gets the compressed image one block at
// a time and must write what each block decompresses to before the next one arrives.
import { constants, createInflate, type Inflate } from 'node:zlib';

export class BlockInflater {
  private readonly inflate: Inflate = createInflate();
  private chunks: Buffer[] = [];
  private failure: Error | null = null;

  constructor() {
    this.inflate.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    this.inflate.on('error', (err: Error) => {
      this.failure = err;
    });
  }

  /** Feeds one block; resolves with the bytes it decompressed to, or rejects on corrupt input. */
  async push(block: Uint8Array): Promise<Buffer> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      this.inflate.once('error', done);
      this.inflate.write(block);
      this.inflate.flush(constants.Z_SYNC_FLUSH, () => {
        this.inflate.off('error', done);
        resolve();
      });
    });
    // 'data' for the flushed output may be emitted on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failure) throw this.failure;
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    return out;
  }

  close(): void {
    this.inflate.destroy();
  }
}
