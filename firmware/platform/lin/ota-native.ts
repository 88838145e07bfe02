// The lin build's half of firmware updates: the file-backed model of the ESP32's app slots and
// bootloader rollback in ota-trial.c, behind the same interface as the ESP32's.
import { markValid, pendingVerify, restart, rollbackAndRestart, updateCapacity } from 'fleetbind/ota-trial';
import { beginImage, cancelImage, completeImage, writeImage } from 'fleetbind/ota-slot';
import type { OtaNative } from '../ota';

export const otaNative: OtaNative = {
  capacity: updateCapacity,
  begin(size) {
    beginImage(size);
    return { write: writeImage, cancel: cancelImage, complete: completeImage };
  },
  restart,
  onTrial: pendingVerify,
  markValid,
  rollback: rollbackAndRestart,
};
