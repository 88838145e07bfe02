// ota-slot.js beside it: the lin build's stand-in for the SDK's `ota` module (ota-trial.c). The
// image goes into the model's next slot, a file.

/** Opens the next slot for an image of `size` bytes; throws when it does not fit. */
export function beginImage(size: number): void;
export function writeImage(chunk: ArrayBuffer | ArrayBufferView): void;
/** Abandons the image; the running one stays the boot image. */
export function cancelImage(): void;
/** Checks the image is whole and one the simulator can run, and makes it the boot slot, on trial. */
export function completeImage(): void;
