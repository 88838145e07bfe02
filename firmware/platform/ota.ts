// Firmware updates on a Moddable build (docs/architecture.md, Over-the-air updates): the image
// comes over Moddable's HTTP client, with `Range` when resuming; where it goes and how the trial
// after the restart works is the platform's `fleetbind/ota-native` (ESP-IDF's app partitions and
// rollback on the ESP32, a file-backed model of them on lin).
import { otaNative } from 'fleetbind/ota-native';
import type { Ota } from '../core/platform';
import { streamGet } from './http';

/** What a platform provides besides the download. */
export type OtaNative = Omit<Ota, 'fetch'>;

export const moddableOta: Ota = {
  ...otaNative,
  fetch: (url, offset, handlers) => streamGet(url, offset > 0 ? `bytes=${offset}-` : null, handlers),
};
