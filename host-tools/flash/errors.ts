// Every way `npm run flash` can fail, each with one line a person can act on.
import { ToolError } from '../api/errors';

export type FlashErrorCode =
  | 'USAGE'
  | 'NO_PORT'
  | 'PORT_BUSY'
  | 'PORT_PERMISSION'
  | 'PORT_ERROR'
  | 'CHIP_NOT_DETECTED'
  | 'WRONG_CHIP'
  | 'BUILD_MISSING'
  | 'BUILD_INVALID'
  | 'BROKER_UNREACHABLE'
  | 'BROKER_REFUSED'
  | 'ALREADY_REGISTERED'
  | 'FLASH_FAILED'
  | 'VERIFY_FAILED'
  | 'MONITOR_TIMEOUT'
  | 'DEVICE_STUCK'
  | 'IMPROV_FAILED'
  | 'IMPROV_TIMEOUT'
  | 'INTERRUPTED';

/** Usage errors exit 2 (as parseArgs conventions go), everything else 1, an interrupt 130. */
export function exitCodeFor(code: FlashErrorCode): number {
  if (code === 'USAGE') return 2;
  if (code === 'INTERRUPTED') return 130;
  return 1;
}

export class FlashError extends ToolError {
  override name = 'FlashError';
  constructor(
    readonly code: FlashErrorCode,
    message: string,
  ) {
    super(message, exitCodeFor(code));
  }
}
