// The ESP32's half of firmware updates (docs/architecture.md, Over-the-air updates): the image
// goes into the next app partition through the Moddable SDK's `ota` module, and the trial after
// the restart is ESP-IDF's app rollback through the `fleetbind/ota-trial` binding (ota-trial/).
import OTA from 'ota';
import { markValid, pendingVerify, restart, rollbackAndRestart, updateCapacity } from 'fleetbind/ota-trial';
import type { OtaSlot } from '../../core/platform';
import type { OtaNative } from '../ota';

function openSlot(size: number): OtaSlot {
  const ota = new OTA({ byteLength: size });
  return {
    write: (chunk) => ota.write(chunk),
    cancel: () => ota.cancel(),
    complete: () => ota.complete(),
  };
}

export const otaNative: OtaNative = {
  capacity: updateCapacity,
  begin: openSlot,
  restart,
  onTrial: pendingVerify,
  markValid,
  rollback: rollbackAndRestart,
};
