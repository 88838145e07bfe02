// The native half is ota-trial.c beside this file; typed in firmware/typings/ota.d.ts.
function pendingVerify() @ "xs_ota_trial_pending_verify";
function markValid() @ "xs_ota_trial_mark_valid";
function rollbackAndRestart() @ "xs_ota_trial_rollback";
function updateCapacity() @ "xs_ota_trial_capacity";
function restart() @ "xs_ota_trial_restart";

export { pendingVerify, markValid, rollbackAndRestart, updateCapacity, restart };
