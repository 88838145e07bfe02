/*
 * Runs the lin model of the ESP32 bootloader (firmware/platform/lin/ota-trial.c) one step per
 * process, as the firmware would: `driver STEP [IMAGE-FILE] RUNNING.so`. The last argument plays
 * the mc.so the simulator runs; a restart re-executes this driver on the image the model picks,
 * and that process only reports what booted (ota-model.test.ts).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xsmc.h"

xsSlot gShimResult;
xsSlot gShimArgs[1];

void xs_ota_trial_pending_verify(xsMachine *the);
void xs_ota_trial_mark_valid(xsMachine *the);
void xs_ota_trial_rollback(xsMachine *the);
void xs_ota_trial_capacity(xsMachine *the);
void xs_ota_trial_restart(xsMachine *the);
void xs_ota_slot_begin(xsMachine *the);
void xs_ota_slot_write(xsMachine *the);
void xs_ota_slot_cancel(xsMachine *the);
void xs_ota_slot_complete(xsMachine *the);

void shimThrow(const char *kind, const char *format, ...)
{
	va_list args;
	printf("%s: ", kind);
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	printf("\n");
	exit(3);
}

static char *readImage(const char *path, long *size)
{
	FILE *file = fopen(path, "rb");
	char *bytes;
	if (!file || fseek(file, 0, SEEK_END) || (*size = ftell(file)) < 0 || fseek(file, 0, SEEK_SET))
		shimThrow("Error", "cannot read %s", path);
	bytes = malloc(*size ? *size : 1);
	if (!bytes || (size_t)*size != fread(bytes, 1, *size, file))
		shimThrow("Error", "cannot read %s", path);
	fclose(file);
	return bytes;
}

/* Begins a slot of `declared` bytes and writes `written` of the image in 1000-byte chunks. */
static void writeImage(const char *path, long declared, long written)
{
	long size, at;
	char *bytes = readImage(path, &size);
	gShimArgs[0].integer = declared;
	xs_ota_slot_begin(NULL);
	for (at = 0; at < written && at < size; at += 1000) {
		gShimArgs[0].bytes = bytes + at;
		gShimArgs[0].size = (written - at < 1000) ? written - at : 1000;
		xs_ota_slot_write(NULL);
	}
	free(bytes);
}

int main(int argc, char **argv)
{
	const char *step = argc > 2 ? argv[1] : "";
	long size;
	if (getenv("FLEETBIND_MODEL_RESTARTED")) {
		xs_ota_trial_pending_verify(NULL);
		printf("booted %s%s\n", argv[argc - 1], gShimResult.integer ? " on trial" : "");
		return 0;
	}
	/* From here on, a new process image of this driver is a restart. */
	setenv("FLEETBIND_MODEL_RESTARTED", "1", 1);
	if (!strcmp(step, "on-trial")) {
		xs_ota_trial_pending_verify(NULL);
		printf("%s\n", gShimResult.integer ? "on trial" : "not on trial");
	}
	else if (!strcmp(step, "capacity")) {
		xs_ota_trial_capacity(NULL);
		printf("%ld\n", gShimResult.integer);
	}
	else if (!strcmp(step, "install") && argc == 4) {
		free(readImage(argv[2], &size));
		writeImage(argv[2], size, size);
		xs_ota_slot_complete(NULL);
		printf("installed\n");
	}
	else if (!strcmp(step, "install-short") && argc == 4) {
		free(readImage(argv[2], &size));
		writeImage(argv[2], size + 10, size);
		xs_ota_slot_complete(NULL);
	}
	else if (!strcmp(step, "install-cancelled") && argc == 4) {
		free(readImage(argv[2], &size));
		writeImage(argv[2], size, size / 2);
		xs_ota_slot_cancel(NULL);
		printf("cancelled\n");
	}
	else if (!strcmp(step, "install-oversize") && argc == 4) {
		free(readImage(argv[2], &size));
		writeImage(argv[2], size - 1, size);
	}
	else if (!strcmp(step, "mark-valid")) {
		xs_ota_trial_mark_valid(NULL);
		printf("valid\n");
	}
	else if (!strcmp(step, "restart"))
		xs_ota_trial_restart(NULL);
	else if (!strcmp(step, "rollback"))
		xs_ota_trial_rollback(NULL);
	else {
		fprintf(stderr, "usage: driver on-trial|capacity|mark-valid|restart|rollback|install[-short|-cancelled|-oversize] [IMAGE] RUNNING.so\n");
		return 2;
	}
	return 0;
}
