// Firmware updates on the device (docs/architecture.md, Over-the-air updates): the image comes
// over Moddable's HTTP client, with `Range` when resuming, and goes into the next update
// partition through Moddable's `ota` module. The trial after the restart is ESP-IDF's app
// rollback, through the `fleetbind/ota-trial` binding.
import { Request } from 'http';
import OTA from 'ota';
import System from 'system';
import { markValid, pendingVerify, rollbackAndRestart, updateCapacity } from 'fleetbind/ota-trial';
import type { Ota, OtaFetchHandlers, OtaSlot } from '../core/platform';

/** Splits an http:// URL into what Moddable's Request takes. */
function target(url: string): { host: string; port: number; path: string } {
  const m = /^http:\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(url);
  if (m === null) throw new Error(`unsupported image URL (http:// only): ${url.slice(0, 64)}`);
  return { host: m[1]!, port: m[2] === undefined ? 80 : Number(m[2]), path: m[3] ?? '/' };
}

function fetchImage(url: string, offset: number, handlers: OtaFetchHandlers): { abort(): void } {
  const { host, port, path } = target(url);
  const headers: (string | number)[] = offset > 0 ? ['Range', `bytes=${offset}-`] : [];
  const request = new Request({ host, port, path, headers, response: ArrayBuffer });
  let ended = false;
  const end = (error?: string): void => {
    if (ended) return;
    ended = true;
    handlers.onEnd(error);
  };
  request.callback = function (message, value) {
    if (message === Request.status) handlers.onStatus(value as number);
    // @moddable/typings gives Request.responseFragment the value of headersComplete (3); http.js's is 4.
    else if (message === 4) handlers.onData(new Uint8Array(request.read(ArrayBuffer)));
    else if (message === Request.responseComplete) end();
    else if (message < 0) end(`HTTP error ${String(value ?? '')}`.trim());
  };
  return {
    abort() {
      ended = true;
      request.close();
    },
  };
}

function openSlot(size: number): OtaSlot {
  const ota = new OTA({ byteLength: size });
  return {
    write: (chunk) => ota.write(chunk),
    cancel: () => ota.cancel(),
    complete: () => ota.complete(),
  };
}

export const moddableOta: Ota = {
  capacity: updateCapacity,
  fetch: fetchImage,
  begin: openSlot,
  restart: () => System.restart(),
  onTrial: pendingVerify,
  markValid,
  rollback: rollbackAndRestart,
};
