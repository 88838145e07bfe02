// Runs inside xsnap-worker: the print scenarios on XS, their transcripts returned as JSON.
import { utf8Encode } from '../../../firmware/core/utf8';
import { runPrintScenario } from '../print-scenario';

(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = () =>
  utf8Encode(
    JSON.stringify([runPrintScenario(), runPrintScenario({ corrupt: true }), runPrintScenario({ outageMs: 60_000 }), runPrintScenario({ outageMs: Infinity })]),
  ).buffer as ArrayBuffer;
