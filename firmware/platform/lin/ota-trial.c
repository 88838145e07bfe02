/*
 * Firmware updates on the desktop (lin) build: a model of the ESP32's two app slots and of the
 * ESP-IDF bootloader's app rollback, so the lin firmware runs the same update and trial code as a
 * board (docs/architecture.md, Over-the-air updates). The model lives in files: `otadata` in
 * $FLEETBIND_OTA_DIR (default /tmp/fleetbind-ota, beside the lin preferences in /tmp) records the
 * boot slot, the running slot and each slot's state and image; a slot's image is an mc.so.
 *
 * The states and moves are ESP-IDF's: an image written and completed is `new` and becomes the boot
 * slot; the bootloader starts a `new` image as `pending-verify`; an image still `pending-verify` at
 * the next boot did not confirm itself, so it is `aborted` and the previous valid slot boots;
 * marking valid ends the trial; rolling back marks the running image `invalid` and boots the other.
 * A restart is the bootloader's step followed by re-executing the simulator on the chosen image.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "xsmc.h"

/* What the update partition holds; an mc.so of the firmware is about 3 MB. */
#define SLOT_BYTES (16 * 1024 * 1024)
#define MAX_ARGS 64

enum { EMPTY, NEW, PENDING_VERIFY, VALID, INVALID, ABORTED };
static const char *const gStateNames[] = { "empty", "new", "pending-verify", "valid", "invalid", "aborted" };

typedef struct {
	int boot;
	int running;
	int state[2];
	char image[2][PATH_MAX];
} OtaData;

static FILE *gWriting = NULL;
static long gExpected = 0;
static long gWritten = 0;

static const char *otaDir(void)
{
	const char *dir = getenv("FLEETBIND_OTA_DIR");
	return (dir && *dir) ? dir : "/tmp/fleetbind-ota";
}

static void otaPath(char *path, const char *name)
{
	snprintf(path, PATH_MAX, "%s/%s", otaDir(), name);
}

/* The simulator's command line, split; args[index] is the mc.so it runs. */
static int readCommandLine(char *buffer, size_t size, char **args, int *soIndex)
{
	int fd = open("/proc/self/cmdline", O_RDONLY), count = 0;
	ssize_t length, at = 0;
	if (fd < 0)
		return -1;
	length = read(fd, buffer, size - 1);
	close(fd);
	if (length <= 0)
		return -1;
	buffer[length] = 0;
	*soIndex = -1;
	while (at < length && count < MAX_ARGS - 2) {
		size_t n = strlen(buffer + at);
		if (n > 3 && 0 == strcmp(buffer + at + n - 3, ".so"))
			*soIndex = count;
		args[count++] = buffer + at;
		at += n + 1;
	}
	args[count] = NULL;
	return count;
}

static void saveOtaData(xsMachine *the, const OtaData *data)
{
	char path[PATH_MAX], temp[PATH_MAX];
	FILE *file;
	int i;
	mkdir(otaDir(), 0700);
	otaPath(path, "otadata");
	otaPath(temp, "otadata.new");
	file = fopen(temp, "w");
	if (!file)
		xsUnknownError("cannot write %s: %s", temp, strerror(errno));
	fprintf(file, "boot %d\nrunning %d\n", data->boot, data->running);
	for (i = 0; i < 2; i++)
		fprintf(file, "slot%d %s %s\n", i, gStateNames[data->state[i]], data->image[i][0] ? data->image[i] : "-");
	if (fclose(file) || rename(temp, path))
		xsUnknownError("cannot write %s: %s", path, strerror(errno));
}

static int stateNamed(const char *name)
{
	int i;
	for (i = 0; i < 6; i++)
		if (0 == strcmp(name, gStateNames[i]))
			return i;
	return -1;
}

/* Reads the model; the first boot records the image the simulator was started on as slot 0, valid. */
static void loadOtaData(xsMachine *the, OtaData *data)
{
	char path[PATH_MAX], state[32], image[PATH_MAX];
	FILE *file;
	int i, slot;
	memset(data, 0, sizeof(*data));
	otaPath(path, "otadata");
	file = fopen(path, "r");
	if (!file) {
		char buffer[4096], *args[MAX_ARGS];
		int soIndex;
		if (readCommandLine(buffer, sizeof(buffer), args, &soIndex) < 0 || soIndex < 0)
			xsUnknownError("cannot tell which mc.so the simulator runs");
		if (!realpath(args[soIndex], data->image[0]))
			xsUnknownError("cannot resolve %s: %s", args[soIndex], strerror(errno));
		data->state[0] = VALID;
		saveOtaData(the, data);
		return;
	}
	if (2 != fscanf(file, "boot %d\nrunning %d\n", &data->boot, &data->running))
		goto bad;
	for (i = 0; i < 2; i++) {
		if (3 != fscanf(file, "slot%d %31s %4095s\n", &slot, state, image) || slot != i || stateNamed(state) < 0)
			goto bad;
		data->state[i] = stateNamed(state);
		if (strcmp(image, "-"))
			snprintf(data->image[i], PATH_MAX, "%s", image);
	}
	fclose(file);
	if ((data->boot & ~1) || (data->running & ~1))
		xsUnknownError("%s names a slot other than 0 or 1", path);
	return;
bad:
	fclose(file);
	xsUnknownError("%s is not an otadata file this build wrote", path);
}

/* The bootloader's step, then the simulator again on the image it picked. Returns only on failure. */
static void bootAndExec(xsMachine *the)
{
	OtaData data;
	char buffer[4096], *args[MAX_ARGS];
	int slot, soIndex, count, fd;
	loadOtaData(the, &data);
	slot = data.boot;
	if (PENDING_VERIFY == data.state[slot]) {
		data.state[slot] = ABORTED;
		slot = 1 - slot;
	}
	else if (NEW == data.state[slot])
		data.state[slot] = PENDING_VERIFY;
	else if (VALID != data.state[slot])
		slot = 1 - slot;
	if (PENDING_VERIFY != data.state[slot] && VALID != data.state[slot])
		xsUnknownError("no slot holds a bootable image");
	data.boot = data.running = slot;
	saveOtaData(the, &data);

	count = readCommandLine(buffer, sizeof(buffer), args, &soIndex);
	if (count < 0)
		xsUnknownError("cannot read the simulator's command line");
	if (soIndex < 0) {
		soIndex = count++;
		args[count] = NULL;
	}
	args[soIndex] = data.image[slot];
	/* The new image opens its own connections: none of this one's may outlive the restart. */
	for (fd = 3; fd < 1024; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	fflush(NULL);
	execv("/proc/self/exe", args);
	xsUnknownError("cannot restart the simulator: %s", strerror(errno));
}

void xs_ota_trial_pending_verify(xsMachine *the)
{
	OtaData data;
	loadOtaData(the, &data);
	xsmcSetBoolean(xsResult, PENDING_VERIFY == data.state[data.running]);
}

void xs_ota_trial_mark_valid(xsMachine *the)
{
	OtaData data;
	loadOtaData(the, &data);
	if (VALID == data.state[data.running])
		return;
	if (PENDING_VERIFY != data.state[data.running])
		xsUnknownError("the running image is %s, not on trial", gStateNames[data.state[data.running]]);
	data.state[data.running] = VALID;
	saveOtaData(the, &data);
}

void xs_ota_trial_rollback(xsMachine *the)
{
	OtaData data;
	int other;
	loadOtaData(the, &data);
	other = 1 - data.running;
	if (VALID != data.state[other])
		xsUnknownError("no valid image to roll back to");
	data.state[data.running] = INVALID;
	data.boot = other;
	saveOtaData(the, &data);
	bootAndExec(the);
}

void xs_ota_trial_capacity(xsMachine *the)
{
	xsmcSetInteger(xsResult, SLOT_BYTES);
}

void xs_ota_slot_begin(xsMachine *the)
{
	OtaData data;
	char path[PATH_MAX];
	int next;
	long size = xsmcToInteger(xsArg(0));
	if (size <= 0 || size > SLOT_BYTES)
		xsRangeError("an image of %ld bytes does not fit the %d-byte slot", size, SLOT_BYTES);
	if (gWriting)
		xsUnknownError("an image is already being written");
	loadOtaData(the, &data);
	next = 1 - data.running;
	/* As esp_ota_begin erases the partition, the slot holds nothing bootable from here on. */
	data.state[next] = EMPTY;
	data.image[next][0] = 0;
	if (data.boot == next)
		data.boot = data.running;
	saveOtaData(the, &data);
	snprintf(path, PATH_MAX, "%s/slot%d.so", otaDir(), next);
	gWriting = fopen(path, "wb");
	if (!gWriting)
		xsUnknownError("cannot open %s: %s", path, strerror(errno));
	gExpected = size;
	gWritten = 0;
}

void xs_ota_slot_write(xsMachine *the)
{
	void *bytes;
	xsUnsignedValue size;
	if (!gWriting)
		xsUnknownError("no image is being written");
	xsmcGetBufferReadable(xsArg(0), &bytes, &size);
	if (gWritten + (long)size > gExpected)
		xsRangeError("the image is longer than the %ld bytes begun", gExpected);
	if (size != fwrite(bytes, 1, size, gWriting))
		xsUnknownError("write failed: %s", strerror(errno));
	gWritten += size;
}

void xs_ota_slot_cancel(xsMachine *the)
{
	if (!gWriting)
		return;
	fclose(gWriting);
	gWriting = NULL;
}

/* As esp_ota_end checks the image before esp_ota_set_boot_partition: whole, and an executable. */
void xs_ota_slot_complete(xsMachine *the)
{
	OtaData data;
	char path[PATH_MAX], magic[4];
	FILE *file;
	int next;
	if (!gWriting)
		xsUnknownError("no image is being written");
	if (fclose(gWriting)) {
		gWriting = NULL;
		xsUnknownError("write failed: %s", strerror(errno));
	}
	gWriting = NULL;
	if (gWritten != gExpected)
		xsUnknownError("the image has %ld of its %ld bytes", gWritten, gExpected);
	loadOtaData(the, &data);
	next = 1 - data.running;
	snprintf(path, PATH_MAX, "%s/slot%d.so", otaDir(), next);
	file = fopen(path, "rb");
	if (!file || 4 != fread(magic, 1, 4, file) || memcmp(magic, "\x7f" "ELF", 4)) {
		if (file)
			fclose(file);
		xsUnknownError("%s is not an image this simulator can run", path);
	}
	fclose(file);
	data.state[next] = NEW;
	snprintf(data.image[next], PATH_MAX, "%s", path);
	data.boot = next;
	saveOtaData(the, &data);
}

void xs_ota_trial_restart(xsMachine *the)
{
	bootAndExec(the);
}
