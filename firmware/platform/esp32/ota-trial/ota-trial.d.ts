// ota-trial.js beside it, over ESP-IDF's app rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE):
// esp_ota_get_state_partition, esp_ota_mark_app_valid_cancel_rollback and
// esp_ota_mark_app_invalid_rollback_and_reboot, which the Moddable SDK does not expose. The lin
// build has the same interface over a file-backed model of the bootloader (platform/lin/ota-trial.c).

/** True while the running image is on trial: started by the bootloader after an update, not yet marked valid. */
export function pendingVerify(): boolean;
/** Ends the trial: the bootloader keeps this image. */
export function markValid(): void;
/** Marks the running image invalid and restarts into the previous one; throws when there is none. */
export function rollbackAndRestart(): void;
/** Bytes of the next update partition. */
export function updateCapacity(): number;
/** Restarts the device; the bootloader picks the image (the new one, on trial, after an update). */
export function restart(): void;
