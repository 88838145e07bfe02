// Platform timers on Moddable's "timer" module (XS has no setTimeout).
import Timer from 'timer';
import type { TimerHandle } from '../core/platform';

export function setTimer(ms: number, callback: () => void): TimerHandle {
  return Timer.set(() => callback(), Math.max(0, ms));
}

export function clearTimer(handle: TimerHandle): void {
  // Handles only ever come from setTimer above; anything else is ignored, like clearTimeout.
  if (handle !== undefined && handle !== null) Timer.clear(handle as Timer);
}
