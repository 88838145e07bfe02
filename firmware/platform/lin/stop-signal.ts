// SIGTERM or SIGINT on the desktop build: the signal handler (stop-signal-native.c) only records
// the signal, and a timer looks at it, so the core's stop runs in the event loop as any other
// callback. After the stop the process waits EXIT_DELAY_MS for the DISCONNECT to leave the
// socket, then exits 0.
import Timer from 'timer';
import { exitProcess, receivedSignal, watchSignals } from 'fleetbind/stop-signal-native';
import type { WatchStopSignal } from '../stop-signal';

const POLL_MS = 100;
const EXIT_DELAY_MS = 500;

export const watchStopSignal: WatchStopSignal = (stop) => {
  watchSignals();
  const poll = Timer.repeat(() => {
    const signal = receivedSignal();
    if (signal === 0) return;
    Timer.clear(poll);
    stop(signal);
    Timer.set(() => exitProcess(0), EXIT_DELAY_MS);
  }, POLL_MS);
};
