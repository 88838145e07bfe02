// identify: blink or beep for the requested seconds, then done.
import type { JobHandler } from '../job-handler';

export const identifyHandler: JobHandler<'identify'> = {
  kind: 'identify',
  available: () => true,
  start(p, ctx) {
    const { platform } = ctx;
    platform.identify(p.seconds);
    ctx.progress(0);
    const timer = platform.setTimer(p.seconds * 1000, () => ctx.done());
    return {
      cancel() {
        platform.clearTimer(timer);
        platform.identify(0);
      },
    };
  },
};
