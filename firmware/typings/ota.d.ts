// Declarations for the Moddable SDK's ESP32 firmware-update module, build/devices/esp32/modules/ota
// (ota.js/ota.c over ESP-IDF's esp_ota_* API), which @moddable/typings does not cover. Written from
// the module's source; the ESP32 manifest (platform/esp32/ota-trial/manifest.json) maps it.
declare module 'ota' {
  export interface OTAOptions {
    /** Size of the image to come; the update partition is erased up to it. */
    byteLength?: number;
  }
  export default class OTA {
    /** esp_ota_begin on the next update partition; throws when there is none. */
    constructor(options?: OTAOptions);
    /** esp_ota_write; throws on a flash error. */
    write(data: ArrayBuffer | ArrayBufferView): void;
    /** esp_ota_end without changing the boot partition. */
    cancel(): void;
    /** esp_ota_end, then esp_ota_set_boot_partition: the next restart boots the new image. */
    complete(): void;
  }
}
