// Runs inside xsnap-worker. Events arrive from the Node test through handleCommand; every
// platform call goes back to Node at once through issueCommand, so the test sees them in order.
import { ScriptedHost } from './scripted-host';
import type { HarnessEvent } from './wire';

declare const issueCommand: (message: ArrayBuffer) => ArrayBuffer;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (value: unknown): ArrayBuffer => encoder.encode(JSON.stringify(value)).buffer as ArrayBuffer;

const host = new ScriptedHost((call) => {
  issueCommand(bytes(call));
});

(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = (message) =>
  bytes(host.handle(JSON.parse(decoder.decode(message)) as HarnessEvent));
