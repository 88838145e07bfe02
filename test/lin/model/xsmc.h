/*
 * The few XS-in-C calls firmware/platform/lin/ota-trial.c makes, over plain C, so the lin model of
 * the bootloader compiles and runs without the Moddable SDK (ota-model.test.ts). A slot holds an
 * integer or a buffer; an XS exception ends the process with its message, as it would end the
 * call that raised it.
 */
#ifndef FLEETBIND_XSMC_SHIM
#define FLEETBIND_XSMC_SHIM
#include <stddef.h>

typedef struct xsMachine xsMachine;
typedef int xsIntegerValue;
typedef size_t xsUnsignedValue;
typedef struct {
	long integer;
	void *bytes;
	xsUnsignedValue size;
} xsSlot;

extern xsSlot gShimResult;
extern xsSlot gShimArgs[1];

#define xsResult gShimResult
#define xsArg(index) gShimArgs[index]
#define xsmcSetBoolean(slot, value) ((slot).integer = (value) ? 1 : 0)
#define xsmcSetInteger(slot, value) ((slot).integer = (value))
#define xsmcToInteger(slot) ((slot).integer)
#define xsmcGetBufferReadable(slot, data, count) (*(data) = (slot).bytes, *(count) = (slot).size)

void shimThrow(const char *kind, const char *format, ...) __attribute__((noreturn, format(printf, 2, 3)));
#define xsUnknownError(...) shimThrow("Error", __VA_ARGS__)
#define xsRangeError(...) shimThrow("RangeError", __VA_ARGS__)
#endif
