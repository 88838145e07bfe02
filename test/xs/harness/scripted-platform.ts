// A faithful model of the hardware a device core talks to (Wi-Fi radio, MQTT socket, screen,
// UART, NVS, clocks), scripted by a test: timers run on a virtual monotonic clock, and the wall
// clock can be set later, as SNTP does. It runs inside XS as well as on Node, so it uses
// nothing either engine lacks. It records every call and reports a
// `violation` when the core breaks the Platform contract, the way real hardware would fail.
import type {
  DeviceFacts,
  LogFields,
  LogLevel,
  MqttConnectOptions,
  MqttHandlers,
  Ota,
  OtaFetchHandlers,
  Platform,
  PrefKey,
  Prefs,
  QrView,
  SerialRequest,
  SerialResult,
  TimerHandle,
  WifiStatus,
} from '../../../firmware/core/platform';
import { Sha256 } from '../../../firmware/core/sha256';
import type { PlatformCall } from './wire';

type CallBody = PlatformCall extends infer C ? (C extends PlatformCall ? Omit<C, 'at'> : never) : never;

interface Timer {
  id: number;
  due: number;
  seq: number;
  callback: () => void;
}

/** mulberry32: tiny, seedable, identical on every engine. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error('hex must be pairs of lower-case hex digits');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export class ScriptedPlatform implements Platform {
  /** Monotonic ms since boot: what timers run on. */
  private mono = 0;
  /** Wall clock at mono = 0; moved by setClock(), as SNTP would. */
  private wallAtBoot: number;
  private readonly rand: () => number;
  private timers: Timer[] = [];
  private nextTimer = 1;
  private seq = 0;
  private readonly store: Partial<Record<PrefKey, string>>;
  private wifiListener: ((s: WifiStatus) => void) | null = null;
  private mqttState: 'idle' | 'connecting' | 'open' = 'idle';
  private mqttHandlers: MqttHandlers | null = null;
  private serialDone: ((r: SerialResult) => void) | null = null;
  private otaFetch: OtaFetchHandlers | null = null;
  /** The update partition's bytes as written, hashed to show what complete() made bootable. */
  private otaImage: { hash: Sha256; written: number; size: number } | null = null;

  readonly prefs: Prefs;
  readonly wifi: Platform['wifi'];
  readonly mqtt: Platform['mqtt'];
  readonly display: Platform['display'];
  readonly serial: Platform['serial'];
  readonly ota: Ota | undefined;
  readonly facts: DeviceFacts;

  constructor(
    private readonly emitCall: (call: PlatformCall) => void,
    init: {
      prefs: Partial<Record<PrefKey, string>>;
      facts: DeviceFacts;
      seed: number;
      startAt: number;
      serial: boolean;
      ota?: { capacity: number; onTrial: boolean };
    },
  ) {
    this.wallAtBoot = init.startAt;
    this.rand = seededRandom(init.seed);
    this.store = { ...init.prefs };
    this.facts = init.facts;
    const emit = (c: CallBody): void => this.emit(c);
    this.prefs = {
      get: (key) => this.store[key],
      set: (key, value) => {
        if (key.length > 15) emit({ op: 'violation', message: `NVS key '${key}' is longer than 15 characters` });
        this.store[key] = value;
        emit({ op: 'prefs.set', key, value });
      },
      remove: (key) => {
        delete this.store[key];
        emit({ op: 'prefs.remove', key });
      },
    };
    this.wifi = {
      connect: (ssid, _psk, onStatus) => {
        if (this.wifiListener !== null) emit({ op: 'violation', message: 'wifi.connect while a connection attempt is active; disconnect first' });
        this.wifiListener = onStatus;
        emit({ op: 'wifi.connect', ssid });
      },
      disconnect: () => {
        this.wifiListener = null;
        emit({ op: 'wifi.disconnect' });
      },
    };
    this.mqtt = {
      connect: (options: MqttConnectOptions, handlers: MqttHandlers) => {
        if (this.mqttState !== 'idle') emit({ op: 'violation', message: `mqtt.connect while a connection is ${this.mqttState}; close it first` });
        if (!(options.keepalive > 0)) emit({ op: 'violation', message: 'mqtt.connect without keepalive' });
        this.mqttState = 'connecting';
        this.mqttHandlers = handlers;
        const { ca, ...rest } = options;
        emit({ op: 'mqtt.connect', options: ca === undefined ? rest : { ...rest, ca: toHex(ca) } });
      },
      publish: (topic, payload, retain = false) => {
        if (this.mqttState !== 'open') emit({ op: 'violation', message: `mqtt.publish on ${topic} with no open connection` });
        emit({ op: 'mqtt.publish', topic, payload, retain });
      },
      subscribe: (topic) => {
        if (this.mqttState !== 'open') emit({ op: 'violation', message: `mqtt.subscribe to ${topic} with no open connection` });
        emit({ op: 'mqtt.subscribe', topic });
      },
      close: () => {
        this.mqttState = 'idle';
        this.mqttHandlers = null;
        emit({ op: 'mqtt.close' });
      },
    };
    this.display = {
      status: (line) => emit({ op: 'display.status', line }),
      agent: (name, claimCode) => emit(claimCode === undefined ? { op: 'display.agent', name } : { op: 'display.agent', name, claimCode }),
      showQr: (view: QrView) => emit({ op: 'display.showQr', view: { ...view } }),
      clearQr: () => emit({ op: 'display.clearQr' }),
      paid: () => emit({ op: 'display.paid' }),
    };
    this.serial = init.serial
      ? {
          send: (request: SerialRequest, done: (r: SerialResult) => void) => {
            if (this.serialDone !== null) emit({ op: 'violation', message: 'serial.send while an exchange is in flight' });
            this.serialDone = done;
            const call: CallBody =
              request.expect === undefined
                ? { op: 'serial.send', data: toHex(request.data), timeoutMs: request.timeoutMs }
                : { op: 'serial.send', data: toHex(request.data), timeoutMs: request.timeoutMs, expect: toHex(request.expect) };
            emit(call);
            return {
              abort: () => {
                this.serialDone = null;
                emit({ op: 'serial.abort' });
              },
            };
          },
        }
      : undefined;
    this.ota = init.ota === undefined ? undefined : this.scriptedOta(init.ota.capacity, init.ota.onTrial, emit);
  }

  private scriptedOta(capacity: number, trial: boolean, emit: (c: CallBody) => void): Ota {
    let onTrial = trial;
    return {
      capacity: () => capacity,
      fetch: (url, offset, handlers) => {
        if (this.otaFetch !== null) emit({ op: 'violation', message: 'ota.fetch while another fetch is in flight' });
        if (this.otaImage === null) emit({ op: 'violation', message: 'ota.fetch with no update partition open' });
        this.otaFetch = handlers;
        emit({ op: 'ota.fetch', url, offset });
        return {
          abort: () => {
            if (this.otaFetch === handlers) this.otaFetch = null;
            emit({ op: 'ota.abort' });
          },
        };
      },
      begin: (size) => {
        if (size > capacity) emit({ op: 'violation', message: `ota.begin(${size}) beyond the partition's ${capacity} bytes` });
        const image = { hash: new Sha256(), written: 0, size };
        this.otaImage = image;
        emit({ op: 'ota.begin', size });
        const open = (what: string): boolean => {
          if (this.otaImage === image) return true;
          emit({ op: 'violation', message: `ota.${what} on a partition that is no longer open` });
          return false;
        };
        return {
          write: (chunk) => {
            if (!open('write')) return;
            image.written += chunk.length;
            image.hash.update(chunk);
            if (image.written > size) emit({ op: 'violation', message: `ota.write beyond the ${size} bytes begun` });
            emit({ op: 'ota.write', bytes: chunk.length, total: image.written });
          },
          cancel: () => {
            if (!open('cancel')) return;
            this.otaImage = null;
            emit({ op: 'ota.cancel' });
          },
          complete: () => {
            if (!open('complete')) return;
            this.otaImage = null;
            if (image.written !== size) emit({ op: 'violation', message: `ota.complete after ${image.written} of ${size} bytes` });
            emit({ op: 'ota.complete', sha256: toHex(image.hash.digest()) });
          },
        };
      },
      restart: () => emit({ op: 'ota.restart' }),
      onTrial: () => onTrial,
      markValid: () => {
        if (!onTrial) emit({ op: 'violation', message: 'ota.markValid on an image that is not on trial' });
        onTrial = false;
        emit({ op: 'ota.markValid' });
      },
      rollback: () => {
        if (!onTrial) emit({ op: 'violation', message: 'ota.rollback on an image that is not on trial' });
        emit({ op: 'ota.rollback' });
      },
    };
  }

  now(): number {
    return this.wallAtBoot + this.mono;
  }

  ticks(): number {
    return this.mono;
  }

  /** Sets the wall clock, as SNTP does on a device; timers and ticks are unaffected. */
  setClock(at: number): void {
    this.wallAtBoot = at - this.mono;
  }

  random(): number {
    return this.rand();
  }

  setTimer(ms: number, callback: () => void): TimerHandle {
    if (!(ms >= 0)) this.emit({ op: 'violation', message: `setTimer with ${ms} ms` });
    const id = this.nextTimer++;
    this.timers.push({ id, due: this.mono + Math.max(0, ms), seq: this.seq++, callback });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    this.emit(fields === undefined ? { op: 'log', level, msg } : { op: 'log', level, msg, fields: { ...fields } });
  }

  identify(seconds: number): void {
    this.emit({ op: 'identify', seconds });
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  snapshotPrefs(): Partial<Record<PrefKey, string>> {
    return { ...this.store };
  }

  /** Moves the virtual clock forward, firing due timers in order (ties in creation order). */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      let first: Timer | null = null;
      for (const t of this.timers) if (t.due <= target && (first === null || t.due < first.due || (t.due === first.due && t.seq < first.seq))) first = t;
      if (first === null) break;
      this.timers = this.timers.filter((t) => t !== first);
      this.mono = first.due;
      first.callback();
    }
    this.mono = target;
  }

  wifiEvent(status: WifiStatus): void {
    const listener = this.wifiListener;
    if (listener === null) throw new Error(`test script error: Wi-Fi '${status}' with no connect() in progress`);
    listener(status);
  }

  mqttReady(): void {
    if (this.mqttState !== 'connecting' || this.mqttHandlers === null) throw new Error(`test script error: CONNACK while the connection is ${this.mqttState}`);
    this.mqttState = 'open';
    this.mqttHandlers.onReady();
  }

  mqttMessage(topic: string, payload: string): void {
    if (this.mqttState !== 'open' || this.mqttHandlers === null) throw new Error(`test script error: message while the connection is ${this.mqttState}`);
    this.mqttHandlers.onMessage(topic, payload);
  }

  mqttClose(info: { refused?: number; reason?: string }): void {
    const handlers = this.mqttHandlers;
    if (this.mqttState === 'idle' || handlers === null) throw new Error('test script error: close with no connection');
    this.mqttState = 'idle';
    this.mqttHandlers = null;
    handlers.onClose(info);
  }

  serialReply(result: SerialResult): void {
    const done = this.serialDone;
    if (done === null) throw new Error('test script error: serial reply with no exchange in flight');
    this.serialDone = null;
    done(result);
  }

  otaStatus(status: number): void {
    const f = this.otaFetch;
    if (f === null) throw new Error('test script error: HTTP status with no fetch in flight');
    f.onStatus(status);
  }

  otaData(chunk: Uint8Array): void {
    const f = this.otaFetch;
    if (f === null) throw new Error('test script error: HTTP data with no fetch in flight');
    f.onData(chunk);
  }

  otaEnd(error?: string): void {
    const f = this.otaFetch;
    if (f === null) throw new Error('test script error: HTTP end with no fetch in flight');
    this.otaFetch = null;
    f.onEnd(error);
  }

  private emit(c: CallBody): void {
    this.emitCall({ ...c, at: this.mono } as PlatformCall);
  }
}
