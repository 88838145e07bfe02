// Declarations for the Moddable SDK's ESP32 firmware-update module, build/devices/esp32/modules/ota
// (ota.js/ota.c over ESP-IDF's esp_ota_* API), and the IO `system` module's restart, which
// @moddable/typings does not cover. Written from the modules' source.
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

declare module 'system' {
  export default class System {
    static restart(): void;
  }
}

/**
 * The trial state of the running image: ESP-IDF's app rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE),
 * esp_ota_get_state_partition / esp_ota_mark_app_valid_cancel_rollback /
 * esp_ota_mark_app_invalid_rollback_and_reboot. The Moddable SDK exposes none of these; this is
 * the binding firmware/platform/esp32/ota.ts expects (docs/architecture.md, Over-the-air updates).
 */
declare module 'fleetbind/ota-trial' {
  export function pendingVerify(): boolean;
  export function markValid(): void;
  export function rollbackAndRestart(): void;
  /** Bytes of the next update partition. */
  export function updateCapacity(): number;
}
