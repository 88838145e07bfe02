// What crosses between a test and the scripted device, in both directions, as JSON. The same
// shapes are used in-process (Node engine) and over xsnap's issueCommand/handleCommand (XS).
import type { CoreStats } from '../../../firmware/core/core';
import type { CoreOptions, CoreState } from '../../../firmware/core/core-options';
import type { DeviceFacts, LogFields, LogLevel, MqttConnectOptions, PrefKey, QrView, WifiStatus } from '../../../firmware/core/platform';

/** Core options that survive JSON (no callbacks, no handler registry). */
export type PlainCoreOptions = Partial<Omit<CoreOptions, 'handlers' | 'onState'>>;

export interface BootEvent {
  type: 'boot';
  prefs: Partial<Record<PrefKey, string>>;
  facts: DeviceFacts;
  /** Seeds the platform's random(), so jitter is the same on both engines. */
  seed: number;
  /** Virtual wall clock at boot, ms since epoch. */
  startAt: number;
  serial: boolean;
  /** An update partition of this many bytes; `onTrial` when this boot is into a new image not yet marked valid. */
  ota?: { capacity: number; onTrial: boolean };
  options?: PlainCoreOptions;
}

/** Events the test injects: the world as the device sees it. */
export type HarnessEvent =
  | BootEvent
  | { type: 'advance'; ms: number }
  /** SNTP set the wall clock to this (ms since epoch). */
  | { type: 'setClock'; at: number }
  | { type: 'wifi'; status: WifiStatus }
  | { type: 'mqtt.ready' }
  | { type: 'mqtt.message'; topic: string; payload: string }
  | { type: 'mqtt.close'; refused?: number; reason?: string }
  | { type: 'serial.reply'; ok: true; data: string }
  | { type: 'serial.reply'; ok: false; error: string }
  /** The image server's answer to the fetch in flight: status, body bytes (hex), end or drop. */
  | { type: 'ota.status'; status: number }
  | { type: 'ota.data'; data: string }
  | { type: 'ota.end'; error?: string }
  | { type: 'stop' }
  | { type: 'stats' };

export interface StatsReply {
  stats: CoreStats;
  prefs: Partial<Record<PrefKey, string>>;
  pendingTimers: number;
  now: number;
}

/** Everything the core did to its platform, in order; `at` is monotonic virtual ms since boot. */
export type PlatformCall = { at: number } & (
  | { op: 'log'; level: LogLevel; msg: string; fields?: LogFields }
  | { op: 'state'; state: CoreState }
  | { op: 'wifi.connect'; ssid: string }
  | { op: 'wifi.disconnect' }
  /** `ca` as hex, so it survives JSON. */
  | { op: 'mqtt.connect'; options: Omit<MqttConnectOptions, 'ca'> & { ca?: string } }
  | { op: 'mqtt.publish'; topic: string; payload: string; retain: boolean }
  | { op: 'mqtt.subscribe'; topic: string }
  | { op: 'mqtt.close' }
  | { op: 'display.status'; line: string }
  | { op: 'display.agent'; name: string | null; claimCode?: string }
  | { op: 'display.showQr'; view: QrView }
  | { op: 'display.clearQr' }
  | { op: 'display.paid' }
  | { op: 'serial.send'; data: string; timeoutMs: number; expect?: string }
  | { op: 'serial.abort' }
  | { op: 'identify'; seconds: number }
  | { op: 'ota.fetch'; url: string; offset: number }
  | { op: 'ota.abort' }
  | { op: 'ota.begin'; size: number }
  /** Bytes written so far into the update partition, after this write. */
  | { op: 'ota.write'; bytes: number; total: number }
  | { op: 'ota.cancel' }
  | { op: 'ota.complete'; sha256: string }
  | { op: 'ota.restart' }
  | { op: 'ota.markValid' }
  | { op: 'ota.rollback' }
  | { op: 'prefs.set'; key: PrefKey; value: string }
  | { op: 'prefs.remove'; key: PrefKey }
  /** The core broke the Platform contract (e.g. published with no open connection). */
  | { op: 'violation'; message: string }
);

export type CallOp = PlatformCall['op'];
export type CallOf<O extends CallOp> = Extract<PlatformCall, { op: O }>;
