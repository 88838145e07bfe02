// One simulated device: the real firmware core (firmware/core) on a Node Platform. Nothing here
// decides anything the device does; it only supplies Node stand-ins for the board's hardware
// and counts what the core does through them.
import type { Logger } from 'pino';
import { createCore, type DeviceCore } from '../../firmware/core/core';
import type { CoreOptions, CoreState } from '../../firmware/core/core-options';
import type { ImprovService } from '../../firmware/core/improv';
import { attachImprov } from '../../firmware/core/improv-device';
import type { Mqtt, Ota, Platform, TimerHandle } from '../../firmware/core/platform';
import type { AckState } from '../../protocol/messages';
import { echoMachine } from './sim-machine';
import { nodeHttp } from './sim-http';
import { type PrinterOptions, SimPrinter } from './sim-printer';
import { NodeMqtt } from './sim-mqtt';
import { SimDisplay } from './sim-display';
import type { MemoryPrefs } from './sim-prefs';
import { SimWifi } from './sim-wifi';

export const SIM_MODEL = 'fleetbind-sim';
export const SIM_CAPS = ['qr.show', 'identify', 'serial.send'];

export interface SimDeviceOptions {
  /** Short name for logs and file names (the machine code, or the MAC). */
  label: string;
  mac: string;
  fw: string;
  prefs: MemoryPrefs;
  log: Logger;
  pngDir?: string;
  print?: (text: string) => void;
  core?: Partial<CoreOptions>;
  /** Wi-Fi association time, ms. */
  associateMs: () => number;
  /** The only network the radio can join; without it, any. */
  accessPoint?: { ssid: string; psk: string };
  /** The update partition (sim-ota.ts); the device then announces `ota`. */
  ota?: Ota;
  /** Where Improv packets go out: the device's console UART. */
  improvSend?: (bytes: Uint8Array) => void;
  onState?: (device: SimDevice, from: CoreState, to: CoreState) => void;
  /** The firmware applied a config from the broker (the answer to its hello, or a later one). */
  onConfig?: (device: SimDevice) => void;
  /** A printer on the UART instead of the echoing machine; the core polls its status. */
  printer?: PrinterOptions;
}

/** How often a simulated device asks its printer for its status, unless the core options say otherwise. */
const PRINTER_POLL_MS = 2_000;

export class SimDevice {
  readonly label: string;
  readonly mac: string;
  readonly fw: string;
  readonly ota: Ota | undefined;
  readonly prefs: MemoryPrefs;
  readonly mqtt = new NodeMqtt();
  readonly wifi: SimWifi;
  readonly display: SimDisplay;
  readonly core: DeviceCore;
  /** The printer on the UART, when the device has one. */
  readonly printer: SimPrinter | null;
  /** Improv on the console UART, when the device has one attached. */
  readonly improv: ImprovService | null;
  /** Acks this device published, by state. */
  readonly acks: Record<AckState, number> = { accepted: 0, progress: 0, done: 0, failed: 0, rejected: 0, cancelled: 0 };
  state: CoreState = 'boot';
  /** Why the broker will not give this device an identity, from what its firmware logged; null while none. */
  problem: string | null = null;
  /** Enrollment replies received (accepted or refused), and enrollment sessions that got none in time. */
  enrollReplies = 0;
  enrollTimeouts = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly onConfig: ((device: SimDevice) => void) | undefined;

  constructor(o: SimDeviceOptions) {
    this.onConfig = o.onConfig;
    this.label = o.label;
    this.mac = o.mac;
    this.fw = o.fw;
    this.ota = o.ota;
    this.prefs = o.prefs;
    this.wifi = new SimWifi(o.associateMs, o.accessPoint);
    this.display = new SimDisplay({
      label: o.label,
      ...(o.pngDir ? { pngDir: o.pngDir } : {}),
      ...(o.print ? { print: o.print } : {}),
      onError: (what, err) => o.log.error({ err }, `display failed ${what}`),
    });
    const display = this.display;
    this.printer = o.printer ? new SimPrinter(o.printer) : null;
    const platform: Platform = {
      now: () => Date.now(),
      random: () => Math.random(),
      setTimer: (ms, callback): TimerHandle => this.setTimer(ms, callback),
      clearTimer: (handle) => this.clearTimer(handle as NodeJS.Timeout),
      log: (level, msg, fields) => {
        this.observe(msg, fields ?? {});
        o.log[level](fields ?? {}, msg);
      },
      prefs: o.prefs,
      wifi: this.wifi,
      mqtt: this.countingAcks(this.mqtt),
      display,
      serial: this.printer?.exchange ?? echoMachine({ baud: 9600, turnaroundMs: 5 }),
      // A printer takes walk-up order designs, fetched over HTTP like the board does.
      ...(this.printer ? { http: nodeHttp } : {}),
      identify: (seconds) => display.identify(seconds),
      ...(o.ota ? { ota: o.ota } : {}),
      facts: { mac: o.mac, model: SIM_MODEL, fw: o.fw, caps: [...SIM_CAPS, ...(o.ota ? ['ota'] : []), ...(this.printer ? ['print'] : [])], boot: 1 },
    };
    this.core = createCore(platform, {
      ...(this.printer ? { machinePollMs: PRINTER_POLL_MS } : {}),
      ...o.core,
      onState: (to) => {
        const from = this.state;
        this.state = to;
        o.onState?.(this, from, to);
      },
    });
    this.improv = o.improvSend ? attachImprov(this.core, platform, o.improvSend) : null;
  }

  start(): void {
    this.core.start();
  }

  stop(): void {
    this.core.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  get registered(): boolean {
    return Boolean(this.prefs.get('id') && this.prefs.get('secret'));
  }

  get deviceId(): string | undefined {
    return this.prefs.get('id');
  }

  private setTimer(ms: number, callback: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      callback();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private clearTimer(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  /** Reads the enrollment outcome and each applied config from the firmware's own log lines (firmware/core/enrollment.ts, broker-config.ts). */
  private observe(msg: string, fields: Record<string, unknown>): void {
    if (msg === 'enrolled') {
      this.enrollReplies++;
      this.problem = null;
    } else if (msg === 'enrollment refused') {
      this.enrollReplies++;
      this.problem = `enrollment refused: ${String(fields.code)} (${String(fields.message)})`;
    } else if (msg === 'the broker refused the enrollment token') {
      this.problem = 'the broker refused the enrollment token at connect (unknown token)';
    } else if (msg === 'broker connection lost, retrying' && String(fields.reason).startsWith('no enrollment reply')) {
      this.enrollTimeouts++;
    } else if (msg === 'config') {
      this.onConfig?.(this);
    }
  }

  /** Counts the acks the core publishes; everything passes through unchanged. */
  private countingAcks(inner: NodeMqtt): Mqtt {
    return {
      connect: (options, handlers) => inner.connect(options, handlers),
      subscribe: (topic) => inner.subscribe(topic),
      close: () => inner.close(),
      publish: (topic, payload, retain) => {
        if (topic.endsWith('/ack')) {
          const state = (JSON.parse(payload) as { state?: AckState }).state;
          if (state !== undefined && state in this.acks) this.acks[state]++;
        }
        inner.publish(topic, payload, retain);
      },
    };
  }
}
