// stop-signal-native.js beside it: the lin build's signal watch, in C (mcconfig picks this file up with the module).
declare module 'fleetbind/stop-signal-native' {
  /** Installs handlers for SIGTERM and SIGINT that only record the signal. */
  export function watchSignals(): void;
  /** The last signal received, or 0. */
  export function receivedSignal(): number;
  /** Ends the process with this exit code. */
  export function exitProcess(code: number): never;
}
