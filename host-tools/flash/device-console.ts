// After flashing: reset the chip into the new firmware and, with --monitor, follow its console
// until it says it is online with the broker (or that it cannot get there).
//
// esptool-js 0.7.0's after('hard_reset') only releases RTS; it never asserts it first, so EN is
// never pulled low and the chip keeps running the stub (test/flash/esptool-pins.test.ts). We drive
// the lines ourselves instead: EN low (RTS asserted, DTR not) for 100 ms, then released while IO0
// is high, which boots from flash — esptool.py's HardReset. The port is reopened at the console
// rate first, so nothing the firmware prints after the reset is missed. Runs in the browser too.
import type { FlashPort } from './esp-session';
import { FlashError } from './errors';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The firmware's console rate (ESP-IDF and Moddable release builds). */
export const CONSOLE_BAUD = 115200;
/** The firmware's console log is "level msg key=value ..." (firmware/platform/log.ts); this line
 * means the broker accepted its credentials and it is serving (firmware/core/core.ts). */
export const REGISTERED_PATTERN = /^info online\b/;
/** Lines after which the firmware will not get online without a person doing something. */
export const STUCK_PATTERN = /^error (not provisioned|enrollment refused|the broker refused)/;
const RESET_HOLD_MS = 100;

export interface ConsoleOptions {
  /** Follow the console until REGISTERED_PATTERN, STUCK_PATTERN or the timeout; null to reset only. */
  monitor: { timeoutMs: number; onLine(line: string): void } | null;
}

export interface ResetResult {
  /** False when the port has no DTR/RTS: the user must press EN. */
  resetByLines: boolean;
  registeredLine: string | null;
}

export async function resetIntoApp(flashPort: FlashPort, options: ConsoleOptions): Promise<ResetResult> {
  const { port } = flashPort;
  await port.open({ baudRate: CONSOLE_BAUD });
  const reader = options.monitor ? port.readable!.getReader() : null;
  try {
    await port.setSignals({ dataTerminalReady: false, requestToSend: true });
    await sleep(RESET_HOLD_MS);
    await port.setSignals({ requestToSend: false });
    const result: ResetResult = { resetByLines: flashPort.signalsReachDevice(), registeredLine: null };
    if (reader && options.monitor) result.registeredLine = await follow(reader, options.monitor.timeoutMs, options.monitor.onLine);
    return result;
  } finally {
    if (reader) {
      await reader.cancel();
      reader.releaseLock();
    }
    await port.close();
  }
}

async function follow(reader: ReadableStreamDefaultReader<Uint8Array>, timeoutMs: number, onLine: (line: string) => void): Promise<string> {
  const decoder = new TextDecoder();
  let pending = '';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, left))));
    const chunk = await Promise.race([reader.read(), timeout]).finally(() => clearTimeout(timer));
    if (chunk === 'timeout') {
      throw new FlashError('MONITOR_TIMEOUT', `the firmware did not report being online within ${Math.round(timeoutMs / 1000)} s (flashing itself succeeded)`);
    }
    if (chunk.done) throw new FlashError('MONITOR_TIMEOUT', 'the serial port closed before the firmware reported being online');
    pending += decoder.decode(chunk.value, { stream: true });
    let nl: number;
    while ((nl = pending.search(/\r?\n/)) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(pending[nl] === '\r' ? nl + 2 : nl + 1);
      onLine(line);
      if (REGISTERED_PATTERN.test(line)) return line;
      if (STUCK_PATTERN.test(line)) throw new FlashError('DEVICE_STUCK', `the firmware reports: ${line.trim()} (flashing itself succeeded)`);
    }
  }
}
