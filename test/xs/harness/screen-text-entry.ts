// Runs inside xsnap-worker: the screen-text scenario on XS, its transcript returned as JSON.
import { runScreenTextScenario } from '../screen-text-scenario';

const encoder = new TextEncoder();
(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = () => encoder.encode(JSON.stringify(runScreenTextScenario())).buffer as ArrayBuffer;
