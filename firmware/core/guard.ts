// Every callback from the platform runs inside a guard: a bad message or a throwing adapter is
// logged, never fatal, because a device that stops on the first surprise never comes back.
import { errorSummary } from './error-summary';
import type { Platform } from './platform';

export type Guard = (what: string, fn: () => unknown) => void;

export function guardWith(platform: Pick<Platform, 'log'>): Guard {
  return (what, fn) => {
    try {
      fn();
    } catch (e) {
      platform.log('error', 'core callback threw; carrying on', { where: what, error: errorSummary(e) });
    }
  };
}
