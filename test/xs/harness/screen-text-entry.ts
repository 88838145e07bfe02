// Runs inside xsnap-worker: the screen-text scenario on XS, its transcript returned as JSON.
import { utf8Encode } from '../../../firmware/core/utf8';
import { runScreenTextScenario } from '../screen-text-scenario';

(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = () =>
  utf8Encode(JSON.stringify(runScreenTextScenario())).buffer as ArrayBuffer;
