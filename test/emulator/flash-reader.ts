// The stub's READ_FLASH after its reply: one packet of flash at a time, each sent once the host has
// acknowledged the running total of bytes received (a 4-byte frame), then the MD5 of all it sent.
// esp-flasher-stub keeps one packet in flight whatever the host asks for (s_read_flash_post_process).
import { createHash, type Hash } from 'node:crypto';
import { STUB } from './dialects';
import { FlashFault, type FlashMemory } from './flash-memory';

export class FlashReader {
  private readonly hash: Hash = createHash('md5');
  private sent = 0;

  constructor(
    private readonly flash: FlashMemory,
    private addr: number,
    private readonly total: number,
    private readonly packetSize: number,
    private readonly io: { send(payload: Uint8Array): void; log(event: Record<string, unknown>): void },
    private readonly fail: (status: number) => void,
  ) {}

  /** Sends the next packet, or the MD5 when all is sent; false once the read is over. */
  sendNext(): boolean {
    if (this.sent === this.total) {
      this.io.send(this.hash.digest());
      this.io.log({ ev: 'read-flash-done', bytes: this.total });
      return false;
    }
    const n = Math.min(this.total - this.sent, this.packetSize);
    let chunk: Uint8Array;
    try {
      chunk = this.flash.read(this.addr, n);
    } catch (e) {
      if (!(e instanceof FlashFault)) throw e;
      this.io.log({ ev: 'fault', mode: 'stub', message: e.message });
      this.fail(STUB.codes['spi-read']);
      return false;
    }
    this.hash.update(chunk);
    this.addr += n;
    this.sent += n;
    this.io.send(chunk);
    return true;
  }

  /** Takes a frame from the host; false once the read is over. */
  ack(frame: Uint8Array): boolean {
    if (frame.length !== 4) {
      this.io.log({ ev: 'read-flash-aborted', reason: `acknowledgement of ${frame.length} bytes` });
      return false;
    }
    const acked = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0, true);
    return acked === this.sent ? this.sendNext() : true;
  }
}
