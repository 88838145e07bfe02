// A board has no host to ask it to stop: power off is the only ending, and the broker sees it
// through the keepalive and the will.
import type { WatchStopSignal } from '../stop-signal';

export const watchStopSignal: WatchStopSignal = () => undefined;
