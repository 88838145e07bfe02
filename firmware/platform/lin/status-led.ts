// The desktop (lin) build has no GPIO: the log display is the only indicator.
import type { OpenStatusLed } from '../status-led';

export const openStatusLed: OpenStatusLed = (pin) => {
  if (pin !== undefined) trace(`led: pin ${pin} ignored, the lin platform has no GPIO\n`);
  return undefined;
};
