// What a device says about itself when its session opens: the hello (docs/architecture.md,
// Wire contract), and the machine code it was enrolled with, from preferences.
import { errorSummary } from './error-summary';
import type { Platform } from './platform';
import { normaliseMachineCode } from '../../protocol/ids';
import type { Hello } from '../../protocol/messages';

/** The machine code in preferences, normalised; an invalid one is logged and left out. */
export function machineCode(platform: Platform): string | undefined {
  const raw = platform.prefs.get('machine');
  if (!raw) return undefined;
  try {
    return normaliseMachineCode(raw, 'machine');
  } catch (e) {
    platform.log('warn', 'ignored an invalid machine code in preferences', { error: errorSummary(e) });
    return undefined;
  }
}

/** The hello of a session opened `sentAt` ms after start; `ota` reports a new image on trial. */
export function helloOf(platform: Platform, mac: string, sentAt: number, ota: Hello['ota'] | null): Hello {
  const facts = platform.facts;
  const hello: Hello = { fw: facts.fw, model: facts.model, mac, caps: facts.caps, boot: facts.boot, uptime: Math.floor(sentAt / 1000), sentAt };
  const machine = machineCode(platform);
  if (machine !== undefined) hello.machine = machine;
  if (facts.screen !== undefined) hello.screen = { width: facts.screen.width, height: facts.screen.height };
  if (ota !== null && ota !== undefined) hello.ota = ota;
  return hello;
}
