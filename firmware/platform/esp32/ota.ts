// Firmware updates on the device (docs/architecture.md, Over-the-air updates): the image comes
// over Moddable's HTTP client, with `Range` when resuming, and goes into the next update
// partition through Moddable's `ota` module. The trial after the restart is ESP-IDF's app
// rollback, through the `fleetbind/ota-trial` binding.
import OTA from 'ota';
import System from 'system';
import { markValid, pendingVerify, rollbackAndRestart, updateCapacity } from 'fleetbind/ota-trial';
import type { Ota, OtaFetchHandlers, OtaSlot } from '../../core/platform';
import { streamGet } from '../http';

function fetchImage(url: string, offset: number, handlers: OtaFetchHandlers): { abort(): void } {
  return streamGet(url, offset > 0 ? `bytes=${offset}-` : null, handlers);
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
