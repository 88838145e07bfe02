// The built-in job kinds (docs/architecture.md, Jobs).
import type { JobHandlers } from '../job-handler';
import { identifyHandler } from './identify';
import { otaHandler } from './ota';
import { printHandler } from './print';
import { qrShowHandler } from './qr-show';
import { serialSendHandler } from './serial-send';

export function builtinHandlers(qrDisplayMs: number): JobHandlers {
  return { 'qr.show': qrShowHandler(qrDisplayMs), identify: identifyHandler, 'serial.send': serialSendHandler, ota: otaHandler, print: printHandler };
}
