// Runs inside xsnap-worker (UTF-8 by the core's own codec: a device has no TextEncoder). Events arrive from the Node test through handleCommand; every
// platform call goes back to Node at once through issueCommand, so the test sees them in order.
import { utf8Decode, utf8Encode } from '../../../firmware/core/utf8';
import { ScriptedHost } from './scripted-host';
import type { HarnessEvent } from './wire';

declare const issueCommand: (message: ArrayBuffer) => ArrayBuffer;

const bytes = (value: unknown): ArrayBuffer => utf8Encode(JSON.stringify(value)).buffer as ArrayBuffer;

const host = new ScriptedHost((call) => {
  issueCommand(bytes(call));
});

(globalThis as unknown as { handleCommand: (m: ArrayBuffer) => ArrayBuffer }).handleCommand = (message) =>
  bytes(host.handle(JSON.parse(utf8Decode(new Uint8Array(message))) as HarnessEvent));
