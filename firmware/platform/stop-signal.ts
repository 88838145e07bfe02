// A clean stop when the host asks for one. On the desktop (lin) build that is SIGTERM or SIGINT:
// the core stops (a DISCONNECT, so the broker records a clean offline and discards the will)
// before the process exits. A board has no signals. main.ts imports `fleetbind/stop-signal`,
// which the manifest maps to the platform's own file.

/** Calls `stop` once when the host asks the firmware to stop, then ends the process itself. */
export type WatchStopSignal = (stop: (signal: number) => void) => void;
