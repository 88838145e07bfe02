// The lin model's slot writer, in place of the SDK's `ota` module; its native half is in ota-trial.c beside this file,
// with the otadata model they share. Typed in firmware/typings/ota.d.ts.
function beginImage(size) @ "xs_ota_slot_begin";
function writeImage(chunk) @ "xs_ota_slot_write";
function cancelImage() @ "xs_ota_slot_cancel";
function completeImage() @ "xs_ota_slot_complete";

export { beginImage, writeImage, cancelImage, completeImage };
