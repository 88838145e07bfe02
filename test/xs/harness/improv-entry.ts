// Runs inside xsnap-worker: the Improv scenario on XS, its transcript returned as JSON.
import { utf8Encode } from '../../../firmware/core/utf8';
import { runImprovScenario } from '../improv-scenario';

(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = () =>
  utf8Encode(JSON.stringify(runImprovScenario())).buffer as ArrayBuffer;
