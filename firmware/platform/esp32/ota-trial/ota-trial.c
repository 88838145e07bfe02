/*
 * The trial state of the running image on the ESP32: ESP-IDF's app rollback. After an update the
 * bootloader starts the new image in ESP_OTA_IMG_PENDING_VERIFY; unless the image marks itself
 * valid before the next reset, the bootloader marks it aborted and starts the previous image.
 * Needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (sdkconfig/sdkconfig.defaults beside this file)
 * and a partition table with otadata and two app slots (partitions.csv). The Moddable SDK's
 * `ota` module writes the image; this binding is the part it leaves out.
 */
#include "xsmc.h"
#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"

static void fail(xsMachine *the, const char *what, esp_err_t err)
{
	xsUnknownError("%s failed: %s", what, esp_err_to_name(err));
}

void xs_ota_trial_pending_verify(xsMachine *the)
{
	esp_ota_img_states_t state;
	const esp_partition_t *running = esp_ota_get_running_partition();
	esp_err_t err = esp_ota_get_state_partition(running, &state);

	/* A factory image, or one flashed by cable, has no otadata entry: it is not on trial. */
	if (ESP_ERR_NOT_SUPPORTED == err || ESP_ERR_NOT_FOUND == err) {
		xsmcSetFalse(xsResult);
		return;
	}
	if (ESP_OK != err)
		fail(the, "esp_ota_get_state_partition", err);
	xsmcSetBoolean(xsResult, ESP_OTA_IMG_PENDING_VERIFY == state);
}

void xs_ota_trial_mark_valid(xsMachine *the)
{
	esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
	if (ESP_OK != err)
		fail(the, "esp_ota_mark_app_valid_cancel_rollback", err);
}

void xs_ota_trial_rollback(xsMachine *the)
{
	/* Restarts into the previous image; it returns only when there is no valid image to go back to. */
	esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
	fail(the, "esp_ota_mark_app_invalid_rollback_and_reboot", err);
}

void xs_ota_trial_capacity(xsMachine *the)
{
	const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
	xsmcSetInteger(xsResult, next ? (xsIntegerValue)next->size : 0);
}

void xs_ota_trial_restart(xsMachine *the)
{
	esp_restart();
}
