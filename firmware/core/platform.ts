// The one seam between the portable device logic and the world it runs in. The Moddable
// adapters (firmware/platform/), the fleet simulator (Node, mqtt.js) and the XS test harness
// each implement it; the core imports nothing else outside protocol/.
//
// Everything is callback style so it maps one-to-one onto Moddable's event-driven modules and
// needs nothing XS lacks. Payloads cross this interface as strings; adapters decode bytes.
import type { ScreenSize } from '../../protocol/screen-fit';

/** Opaque handle returned by setTimer; only ever passed back to clearTimer. */
export type TimerHandle = unknown;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Keys in the Preference domain `fb` (ESP32 NVS namespace `fb`), all `str` entries. */
export type PrefKey =
  | 'ssid'
  | 'psk'
  | 'broker'
  | 'id'
  | 'secret'
  | 'enroll'
  | 'machine'
  | 'ca'
  | 'insecure'
  | 'sntp'
  /** Release public keys (base64 of 32 bytes, comma-separated), written at flash time. */
  | 'otakey'
  /** Applied settings (JSON) and the desired version they came with (device-settings.ts). */
  | 'settings'
  | 'setver'
  /** The update in flight across a restart (JSON, ota-trial.ts). */
  | 'ota'
  /** Lowest version this device may still install (anti-rollback floor). */
  | 'otafloor';
export const PREF_DOMAIN = 'fb';

export interface Prefs {
  get(key: PrefKey): string | undefined;
  set(key: PrefKey, value: string): void;
  remove(key: PrefKey): void;
}

/**
 * Wi-Fi station events, named after Moddable's WiFi messages. `gotip` means the network is
 * usable; `disconnected` may arrive at any time, also after `gotip`, and the adapter must not
 * reconnect by itself: the core owns the retry schedule.
 */
export type WifiStatus = 'connecting' | 'connected' | 'gotip' | 'lostip' | 'disconnected';

export interface Wifi {
  /** Starts one connection attempt; status events follow through onStatus until disconnect(). */
  connect(ssid: string, psk: string, onStatus: (status: WifiStatus) => void): void;
  /** Drops the link and stops delivering events from the previous connect(). */
  disconnect(): void;
}

export interface MqttWill {
  topic: string;
  payload: string;
  retain: boolean;
}

export interface MqttConnectOptions {
  host: string;
  port: number;
  /** TLS (mqtts://). */
  secure: boolean;
  /** With `secure`: DER of the CA certificate the server must chain to; any other server is refused. */
  ca?: Uint8Array;
  clientId: string;
  username: string;
  password: string;
  /** Seconds; the core never passes 0 (Moddable's client default). */
  keepalive: number;
  /** Set on every session as the device itself; absent only while enrolling. */
  will?: MqttWill;
}

/**
 * Why a connection ended. `refused` carries the CONNACK return code when the broker refused
 * the CONNECT (4 = bad user name or password, 5 = not authorised); adapters that cannot tell
 * leave it out, and the core then treats the close as a plain connection loss.
 */
export interface MqttCloseInfo {
  refused?: number;
  reason?: string;
}

export interface MqttHandlers {
  /** CONNACK accepted: the session is usable. */
  onReady(): void;
  /** One PUBLISH from the broker, payload decoded as UTF-8 text. */
  onMessage(topic: string, payload: string): void;
  /** Called at most once per connect(), also when the connection never became ready. */
  onClose(info: MqttCloseInfo): void;
}

/** MQTT 3.1.1, QoS 0, clean session. There is no automatic reconnect: the core reconnects. */
export interface Mqtt {
  connect(options: MqttConnectOptions, handlers: MqttHandlers): void;
  publish(topic: string, payload: string, retain?: boolean): void;
  subscribe(topic: string): void;
  /** Closes the current connection without sending the will; no onClose follows. */
  close(): void;
}

export interface QrView {
  text: string;
  caption: string;
  amount?: number;
  currency?: string;
  /** ms since epoch, for a countdown. */
  expiresAt?: number;
}

/** What the screen shows. Boards without a screen log these instead. */
export interface Display {
  /** One short status line: the core's state in words. */
  status(line: string): void;
  /** The bound agent's name, or null with the claim code to show for claiming. */
  agent(name: string | null, claimCode?: string): void;
  showQr(view: QrView): void;
  clearQr(): void;
  /** Payment confirmed for the QR on screen. */
  paid(): void;
  /** Backlight in percent (setting `display.brightness`); boards without a dimmable screen leave it out. */
  brightness?(percent: number): void;
}

export interface SerialRequest {
  data: Uint8Array;
  timeoutMs: number;
  /** Reply is complete once it ends with these bytes; otherwise whatever arrived by timeoutMs. */
  expect?: Uint8Array;
}

/** Outcome of one serial exchange: the reply bytes, or a short error text. */
export type SerialResult = { ok: true; data: Uint8Array } | { ok: false; error: string };

/** UART to the attached machine. Absent on boards that have none. */
export interface Serial {
  /** Sends and collects the reply; `done` is called exactly once unless the returned abort() ran first. */
  send(request: SerialRequest, done: (result: SerialResult) => void): { abort(): void };
}

/** One HTTP GET of an update image from a byte offset (`Range: bytes=<offset>-` when offset > 0). */
export interface OtaFetchHandlers {
  /** The response's status: 200 for the whole image, 206 for the rest from the offset asked for. */
  onStatus(status: number): void;
  onData(chunk: Uint8Array): void;
  /** The body ended; `error` says why when the connection failed first. Called at most once. */
  onEnd(error?: string): void;
}

/** The partition a new image is written into. */
export interface OtaSlot {
  write(chunk: Uint8Array): void;
  /** Abandons the image; the running one stays the boot image. */
  cancel(): void;
  /** Makes the written image the one the next restart boots, on trial. */
  complete(): void;
}

/**
 * Firmware updates: Moddable's `ota` module plus HTTP on the device, a file in the simulator.
 * An image booted after complete() is on trial: unless it calls markValid() before the next
 * restart, the bootloader boots the previous image again.
 */
export interface Ota {
  /** Bytes the update partition holds. */
  capacity(): number;
  fetch(url: string, offset: number, handlers: OtaFetchHandlers): { abort(): void };
  /** Erases the update partition and opens it for an image of `size` bytes. */
  begin(size: number): OtaSlot;
  /** Restarts the device into its boot image. */
  restart(): void;
  /** True while the running image is on trial. */
  onTrial(): boolean;
  markValid(): void;
  /** Gives up on the image on trial and restarts into the previous one. */
  rollback(): void;
}

/** What one ranged HTTP GET reports, in this order: status, data (any number), end (once). */
export interface HttpGetHandlers {
  /** 206 for the range asked for; 200 means the server sent the whole body instead. */
  onStatus(status: number): void;
  onData(chunk: Uint8Array): void;
  /** The body ended; `error` says why when the connection failed first. */
  onEnd(error?: string): void;
}

/** HTTP for fetching blobs in bounded pieces: Moddable's `http` Request on the device, fetch in the simulator. */
export interface Http {
  /** GET of bytes [start, end] (inclusive) with `Range: bytes=start-end`. */
  get(url: string, range: { start: number; end: number }, handlers: HttpGetHandlers): { abort(): void };
}

export interface DeviceFacts {
  /** 12 lower-case hex digits. */
  mac: string;
  model: string;
  fw: string;
  /** Job kinds (and other capabilities) announced in hello. */
  caps: string[];
  /** Boot counter. */
  boot: number;
  /** The display's pixels, announced in hello so the broker refuses a QR it could not draw; absent without a screen. */
  screen?: ScreenSize;
}

export interface Platform {
  /** ms since epoch, as well as the device knows it (an ESP32 starts at 1970 until SNTP). */
  now(): number;
  /**
   * Monotonic ms (Moddable: Time.ticks), unaffected when the wall clock is set. Used for uptime;
   * when absent the core falls back to now().
   */
  ticks?(): number;
  /** Sets the wall clock (ms since epoch) from the broker's time; absent where the host owns the clock. */
  setClock?(ms: number): void;
  /** Uniform in [0, 1). */
  random(): number;
  setTimer(ms: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  prefs: Prefs;
  wifi: Wifi;
  mqtt: Mqtt;
  display: Display;
  serial?: Serial;
  /** Firmware updates; absent on platforms that cannot update themselves. */
  ota?: Ota;
  /** Ranged HTTP GETs (walk-up order designs); absent where the board has no HTTP client. */
  http?: Http;
  /** Blink or beep for the given seconds; 0 stops at once. */
  identify(seconds: number): void;
  facts: DeviceFacts;
}
