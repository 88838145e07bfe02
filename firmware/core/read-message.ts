// Parses a message from the broker with protocol/'s validator; a malformed one is logged and
// dropped, so one bad publish cannot take the device down.
import { errorSummary } from './error-summary';
import type { Platform } from './platform';
import { parseJson } from '../../protocol/validate';

export function readMessage<T>(platform: Pick<Platform, 'log'>, what: string, payload: string, parse: (value: unknown) => T): T | null {
  try {
    return parse(parseJson(payload));
  } catch (e) {
    platform.log('warn', `ignored a malformed ${what}`, { error: errorSummary(e), chars: payload.length });
    return null;
  }
}
