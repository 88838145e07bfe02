// Runs inside xsnap-worker: the Improv scenario on XS, its transcript returned as JSON.
import { runImprovScenario } from '../improv-scenario';

const encoder = new TextEncoder();
(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = () => encoder.encode(JSON.stringify(runImprovScenario())).buffer as ArrayBuffer;
