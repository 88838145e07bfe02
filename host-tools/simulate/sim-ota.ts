// The simulator's update partition (docs/architecture.md, Over-the-air updates): the image comes
// over real HTTP with Range, as on the device, and goes into a file when a directory is given
// (otherwise only its hash is kept, so a thousand simulated devices do not hold a thousand
// images). A restart is handed to the fleet, which boots the device again; the simulator has no
// image to boot, so the new image "is" the version the core recorded before restarting.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Ota, OtaFetchHandlers, OtaSlot } from '../../firmware/core/platform';

export interface SimOtaOptions {
  /** Bytes of the update partition. */
  capacity: number;
  /** Where the written image goes (one file per device); none keeps only its hash. */
  dir?: string;
  label: string;
  /** This boot is into a new image not yet marked valid. */
  onTrial: boolean;
  /** The device restarts: `rollback` when the image on trial gave up. */
  restart(rollback: boolean): void;
  /** Asked per download: corrupt the bytes as they arrive (fault injection for tests and benches). */
  corrupt?: () => boolean;
}

export class SimOta implements Ota {
  private trial: boolean;
  /** What the last complete() made bootable. */
  bootImage: { sha256: string; size: number } | null = null;
  downloadedBytes = 0;

  constructor(private readonly o: SimOtaOptions) {
    this.trial = o.onTrial;
  }

  capacity(): number {
    return this.o.capacity;
  }

  fetch(url: string, offset: number, h: OtaFetchHandlers): { abort(): void } {
    let done = false;
    const end = (error?: string): void => {
      if (done) return;
      done = true;
      h.onEnd(error);
    };
    const corrupt = this.o.corrupt?.() ?? false;
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { headers: offset > 0 ? { range: `bytes=${offset}-` } : {} }, (res) => {
      h.onStatus(res.statusCode ?? 0);
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        this.downloadedBytes += chunk.length;
        if (corrupt) {
          const bad = Buffer.from(chunk);
          bad[0] = bad[0]! ^ 0xff;
          h.onData(bad);
        } else {
          h.onData(chunk);
        }
      });
      res.on('end', () => end());
      res.on('error', (e) => end(e.message));
    });
    req.on('error', (e) => end(e.message));
    req.end();
    return {
      abort: () => {
        done = true;
        req.destroy();
      },
    };
  }

  begin(size: number): OtaSlot {
    const hash: Hash = createHash('sha256');
    const fd = this.o.dir === undefined ? null : openSync(join(this.o.dir, `${this.o.label}.ota.bin`), 'w');
    let written = 0;
    const close = (): void => {
      if (fd !== null) closeSync(fd);
    };
    return {
      write: (chunk) => {
        written += chunk.length;
        if (written > size) throw new Error(`write beyond the ${size} bytes begun`);
        hash.update(chunk);
        if (fd !== null) writeSync(fd, chunk);
      },
      cancel: close,
      complete: () => {
        close();
        if (written !== size) throw new Error(`complete after ${written} of ${size} bytes`);
        this.bootImage = { sha256: hash.digest('hex'), size };
      },
    };
  }

  restart(): void {
    this.o.restart(false);
  }

  onTrial(): boolean {
    return this.trial;
  }

  markValid(): void {
    this.trial = false;
  }

  rollback(): void {
    this.o.restart(true);
  }
}
