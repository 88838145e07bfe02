// Native half of the lin stop signal (stop-signal-native.c); typed in stop-signal-native.d.ts.
function watchSignals() @ "xs_stop_signal_watch";
function receivedSignal() @ "xs_stop_signal_received";
function exitProcess(code) @ "xs_stop_signal_exit";

export { watchSignals, receivedSignal, exitProcess };
