// The device: boot → (enroll) → wifi → mqtt → hello → ready ⇄ busy (docs/architecture.md, Firmware).
// A small coordinator over three layers: the Wi-Fi link, the MQTT session and enrollment. Each
// layer owns its own backoff, so the device comes back by itself after a broker restart, a
// Wi-Fi drop or rotated credentials. Every callback from the platform runs inside a guard: a bad
// message or a throwing adapter is logged, never fatal.
import { errorSummary } from './error-summary';
import { DEFAULT_BACKOFF, checkBackoffOptions, type BackoffOptions } from './backoff';
import { parseBrokerAddress, type BrokerAddress } from './broker-address';
import { deviceRandom } from './device-random';
import { refusalLine } from './display-text';
import { Enrollment, type Identity } from './enrollment';
import { guardWith, type Guard } from './guard';
import { builtinHandlers } from './handlers/index';
import type { JobHandlers } from './job-handler';
import { JobRunner } from './job-runner';
import { DeviceSettings } from './device-settings';
import { MachineLink } from './machine-link';
import { MqttSession } from './mqtt-session';
import { StateReporter } from './state-reporter';
import { OtaTrial } from './ota-trial';
import type { MqttCloseInfo, MqttConnectOptions, Platform } from './platform';
import { readMessage } from './read-message';
import { Screen } from './screen';
import { chooseTransport, type Transport } from './transport';
import { WifiLink } from './wifi-link';
import { normaliseMac, normaliseMachineCode } from '../../protocol/ids';
import { parseCmd, parseConfig, type Hello } from '../../protocol/messages';
import type { ReportedState, SettingValue, SettingsDelta } from '../../protocol/machine-state';
import { deviceTopic } from '../../protocol/topics';

export type CoreState = 'boot' | 'unprovisioned' | 'wifi' | 'enroll' | 'mqtt' | 'hello' | 'ready' | 'busy' | 'stopped';

export interface CoreOptions {
  /** MQTT keepalive in seconds; never 0 (docs/architecture.md, Presence). */
  keepaliveS: number;
  wifiBackoff: BackoffOptions;
  mqttBackoff: BackoffOptions;
  /** No IP address within this → drop and retry. */
  wifiTimeoutMs: number;
  /** No CONNACK within this → drop and retry. */
  connectTimeoutMs: number;
  /** No enrollment reply within this → drop and retry. */
  enrollReplyTimeoutMs: number;
  /** How many recent job ids the dedupe ring remembers. */
  dedupeSize: number;
  /** Larger inbound messages are dropped unparsed. */
  maxPayloadChars: number;
  /** How long a QR without expiry or hold stays up. */
  qrDisplayMs: number;
  /** How long a new image may take to reach the broker before it rolls back. */
  otaTrialMs: number;
  /** Least time between two state reports; changes in between are coalesced into one. */
  stateMinIntervalMs: number;
  /** The whole state is reported at least this often. */
  stateReportMs: number;
  /** How often the attached machine is asked for its status over serial; 0 when there is none to ask. */
  machinePollMs: number;
  handlers?: JobHandlers;
  onState?: (state: CoreState) => void;
}

export const DEFAULT_CORE_OPTIONS: CoreOptions = {
  keepaliveS: 30,
  wifiBackoff: DEFAULT_BACKOFF,
  mqttBackoff: DEFAULT_BACKOFF,
  wifiTimeoutMs: 20_000,
  connectTimeoutMs: 15_000,
  enrollReplyTimeoutMs: 15_000,
  dedupeSize: 32,
  maxPayloadChars: 8_192,
  qrDisplayMs: 60_000,
  otaTrialMs: 5 * 60_000,
  stateMinIntervalMs: 1_000,
  stateReportMs: 5 * 60_000,
  machinePollMs: 0,
};

/** MQTT 3.1.1 CONNACK codes that mean "these credentials are wrong", not "try later". */
const CREDENTIALS_REFUSED = [4, 5];
const ONLINE = JSON.stringify({ state: 'online' });
const OFFLINE = JSON.stringify({ state: 'offline' });

export interface CoreStats {
  state: CoreState;
  deviceId: string | null;
  wifiAttempts: number;
  mqttAttempts: number;
  rememberedJobs: number;
  running: { job: string; kind: string } | null;
}

export class DeviceCore {
  private readonly options: CoreOptions;
  private readonly guard: Guard;
  private readonly screen: Screen;
  private readonly link: WifiLink;
  private readonly session: MqttSession;
  private readonly enrollment: Enrollment;
  private readonly runner: JobRunner;
  private readonly trial: OtaTrial;
  private readonly reporter: StateReporter;
  private readonly settings: DeviceSettings;
  private readonly machineLink: MachineLink | null;
  private current: CoreState = 'boot';
  private mac = '';
  private broker: BrokerAddress | null = null;
  private transport: Transport = { secure: false };
  private startedAt = 0;
  /** The identity of the current (or last) session; its id is the device id once connected as the device. */
  private identity: Identity | null = null;
  /** Uptime ms of this session's hello, to measure the round trip of the config that answers it. */
  private helloSentAt: number | null = null;
  /** Jitter for both backoffs; seeded per device once the MAC is known. */
  private random: () => number;
  /** Told how the first attempt on a network given through joinWifi() went. */
  private joining: ((ok: boolean) => void) | null = null;

  constructor(
    private readonly platform: Platform,
    options: Partial<CoreOptions> = {},
  ) {
    const o = { ...DEFAULT_CORE_OPTIONS, ...options };
    this.options = o;
    if (!(o.keepaliveS >= 1)) throw new Error('keepaliveS must be at least 1 second: the broker must notice a dead device');
    const wifiBackoff = checkBackoffOptions(o.wifiBackoff, 'wifiBackoff');
    const mqttBackoff = checkBackoffOptions(o.mqttBackoff, 'mqttBackoff');
    this.guard = guardWith(platform);
    this.screen = new Screen(platform);
    this.random = () => platform.random();
    const random = (): number => this.random();
    const changed = (): void => this.refresh();
    this.session = new MqttSession(platform, { connectTimeoutMs: o.connectTimeoutMs, backoff: mqttBackoff, random }, this.screen, this.guard, {
      canRetry: () => this.link.up,
      retry: () => this.connectSession(),
      changed,
    });
    this.link = new WifiLink(platform, { timeoutMs: o.wifiTimeoutMs, backoff: wifiBackoff, random }, this.screen, this.guard, {
      up: () => {
        this.settleJoin(true);
        this.connectSession();
      },
      down: () => {
        this.settleJoin(false);
        this.session.close();
      },
      changed,
    });
    this.enrollment = new Enrollment(platform, this.session, { replyTimeoutMs: o.enrollReplyTimeoutMs }, () => {
      this.session.close();
      this.session.resetBackoff();
      this.connectSession();
    });
    this.trial = new OtaTrial(platform, o.otaTrialMs);
    this.runner = new JobRunner(platform, o.handlers ?? builtinHandlers(o.qrDisplayMs), platform.facts.caps, o.dedupeSize, {
      publishAck: (text) => {
        const id = this.deviceId();
        return id !== null && this.session.publish(deviceTopic(id, 'ack'), text);
      },
      onBusy: (kind) => {
        this.screen.status(kind === null ? (this.session.open ? 'Ready' : 'Offline') : `Busy: ${kind}`);
        this.refresh();
      },
    });
    this.reporter = new StateReporter(
      platform,
      { minIntervalMs: o.stateMinIntervalMs, periodMs: o.stateReportMs },
      {
        publish: (text) => {
          const id = this.deviceId();
          return id !== null && this.session.open && this.session.publish(deviceTopic(id, 'state'), text);
        },
      },
    );
    this.settings = new DeviceSettings(platform);
    const applied = this.settings.current;
    if (Object.keys(applied).length > 0) this.reporter.update({ settings: applied });
    this.machineLink =
      o.machinePollMs > 0 && platform.serial !== undefined
        ? new MachineLink(platform, o.machinePollMs, {
            busy: () => this.runner.running?.kind === 'serial.send',
            status: (patch) => this.reporter.update(patch),
          })
        : null;
  }

  /** The machine state as the device last knew it (what it reports). */
  reportedState(): ReportedState {
    return this.reporter.current;
  }

  /** The settings the device runs with, and the desired version they came from. */
  appliedSettings(): { version: number; settings: Record<string, SettingValue> } {
    return { version: this.settings.appliedVersion, settings: this.settings.current };
  }

  get state(): CoreState {
    return this.current;
  }

  stats(): CoreStats {
    return {
      state: this.current,
      deviceId: this.deviceId(),
      wifiAttempts: this.link.attempts,
      mqttAttempts: this.session.attempts,
      rememberedJobs: this.runner.remembered,
      running: this.runner.running,
    };
  }

  start(): void {
    if (this.current !== 'boot') throw new Error(`start() called in state ${this.current}; a core starts once`);
    this.guard('start', () => {
      this.startedAt = this.ticks();
      this.screen.status('Starting');
      try {
        this.mac = normaliseMac(this.platform.facts.mac);
      } catch {
        return this.halt('the platform reports no valid MAC address');
      }
      this.random = deviceRandom(this.mac, this.platform.facts.boot, () => this.platform.random());
      this.trial.boot();
      this.machineLink?.start();
      this.begin();
    });
  }

  /**
   * A new Wi-Fi network, given over Improv after flashing: stored in preferences, and joined at
   * once (also by a device that stopped at boot for want of one). `done` says whether the first
   * attempt got an IP address; after a failure the link keeps retrying as it always does.
   */
  joinWifi(ssid: string, psk: string, done: (ok: boolean) => void): void {
    if (this.current === 'boot' || this.current === 'stopped') return done(false);
    this.guard('join Wi-Fi', () => {
      const prefs = this.platform.prefs;
      prefs.set('ssid', ssid);
      if (psk === '') prefs.remove('psk');
      else prefs.set('psk', psk);
      this.settleJoin(false);
      this.joining = done;
      this.session.close();
      this.identity = null;
      this.link.stop(this.current !== 'unprovisioned');
      this.current = 'boot';
      this.begin();
    });
  }

  private settleJoin(ok: boolean): void {
    const done = this.joining;
    this.joining = null;
    done?.(ok);
  }

  /** Checks the preferences and starts the Wi-Fi link, or stops as unprovisioned. */
  private begin(): void {
    this.guard('begin', () => {
      const prefs = this.platform.prefs;
      const ssid = prefs.get('ssid');
      if (!ssid) return this.halt('no Wi-Fi network (pref ssid)');
      this.broker = parseBrokerAddress(prefs.get('broker') ?? '');
      if (this.broker === null) return this.halt('no valid broker address (pref broker)');
      if (this.enrollment.identity() === null) return this.halt('neither device credentials (id, secret) nor an enrollment token (enroll)');
      const transport = chooseTransport(this.broker, prefs.get('ca'), prefs.get('insecure'));
      if (typeof transport === 'string') return this.halt(transport);
      this.transport = transport;
      if (!transport.secure) this.platform.log('warn', 'plain MQTT: the device secret crosses the network in clear (insecure=1)', { broker: this.broker.host });
      this.link.start(ssid);
    });
  }

  stop(): void {
    this.guard('stop', () => {
      this.runner.stop();
      this.machineLink?.stop();
      this.reporter.stop();
      this.session.close();
      this.identity = null;
      this.link.stop(this.current !== 'boot' && this.current !== 'unprovisioned');
      this.set('stopped');
    });
  }

  /** The device id while connected (or connecting) as the device itself. */
  private deviceId(): string | null {
    return this.identity?.mode === 'device' ? this.identity.id : null;
  }

  private connectSession(): void {
    if (!this.link.up || this.broker === null) return;
    const identity = this.enrollment.identity();
    if (identity === null) return this.halt('credentials disappeared from preferences');
    this.identity = identity;
    const options: MqttConnectOptions = {
      host: this.broker.host,
      port: this.broker.port,
      secure: this.transport.secure,
      clientId: identity.id ?? `enroll-${this.mac}`,
      username: identity.id ?? 'enroll',
      password: identity.password,
      keepalive: this.options.keepaliveS,
    };
    if (this.transport.secure) options.ca = this.transport.ca;
    if (identity.id !== null) options.will = { topic: deviceTopic(identity.id, 'status'), payload: OFFLINE, retain: true };
    this.platform.log('info', 'connecting to broker', { host: options.host, port: options.port, clientId: options.clientId, mode: identity.mode });
    this.screen.status(identity.mode === 'enroll' ? 'Enrolling' : 'Connecting broker');
    this.refresh();
    this.session.connect(options, {
      ready: () => this.onReady(identity),
      message: (topic, payload) => this.onMessage(identity, topic, payload),
      closed: (info) => this.onClose(identity, info),
    });
  }

  private onReady(identity: Identity): void {
    if (identity.mode === 'enroll') {
      this.enrollment.request(this.mac, this.machine());
      this.refresh();
      return;
    }
    const id = identity.id;
    this.enrollment.accepted();
    this.session.subscribe(deviceTopic(id, 'config'));
    this.session.subscribe(deviceTopic(id, 'cmd'));
    this.session.publish(deviceTopic(id, 'status'), ONLINE, true);
    this.set('hello');
    const facts = this.platform.facts;
    const sentAt = Math.floor(this.ticks() - this.startedAt);
    this.helloSentAt = sentAt;
    const hello: Hello = { fw: facts.fw, model: facts.model, mac: this.mac, caps: facts.caps, boot: facts.boot, uptime: Math.floor(sentAt / 1000), sentAt };
    const machine = this.machine();
    if (machine !== undefined) hello.machine = machine;
    if (facts.screen !== undefined) hello.screen = { width: facts.screen.width, height: facts.screen.height };
    const ota = this.trial.reached();
    if (ota !== null) hello.ota = ota;
    if (this.session.publish(deviceTopic(id, 'hello'), JSON.stringify(hello)) && ota !== null) this.trial.reported();
    this.session.resetBackoff();
    this.platform.log('info', 'online', { deviceId: id });
    this.screen.status(this.runner.running === null ? 'Ready' : `Busy: ${this.runner.running.kind}`);
    this.refresh();
    this.runner.flushUnsent();
    this.reporter.connected();
  }

  private onMessage(identity: Identity, topic: string, payload: string): void {
    const limit = this.options.maxPayloadChars;
    if (payload.length > limit) {
      this.platform.log('warn', 'dropped an oversized message', { topic: topic.slice(0, 96), chars: payload.length, limit });
      return;
    }
    if (identity.mode === 'enroll') return this.enrollment.onMessage(this.mac, topic, payload);
    if (topic === deviceTopic(identity.id, 'cmd')) this.onCmd(payload);
    else if (topic === deviceTopic(identity.id, 'config')) this.onConfig(payload);
    else this.platform.log('warn', 'message on an unexpected topic', { topic: topic.slice(0, 96) });
  }

  private onCmd(payload: string): void {
    const cmd = readMessage(this.platform, 'cmd', payload, parseCmd);
    if (cmd !== null) this.runner.handle(cmd);
  }

  private onConfig(payload: string): void {
    const config = readMessage(this.platform, 'config', payload, parseConfig);
    if (config === null) return;
    if (config.time?.hello !== undefined && config.time.hello === this.helloSentAt) this.setClock(config.time.now, config.time.hello);
    const sntp = config.settings.sntp;
    if (typeof sntp === 'string' && sntp !== this.platform.prefs.get('sntp')) {
      this.platform.prefs.set('sntp', sntp);
      this.platform.log('info', 'SNTP server changed by the broker', { sntp });
    }
    if (config.delta !== undefined) this.applySettings(config.delta);
    const agent = config.agent;
    this.screen.show('agent', (d) => d.agent(agent === null ? null : agent.name, config.claimCode));
    this.platform.log('info', 'config', { agent: agent === null ? null : agent.id });
    // The broker refused the hello, or its machine code: someone must fix the firmware or the
    // enrollment, so say it where a technician looks (docs/architecture.md, Topic tree).
    const error = config.error;
    if (error !== undefined) {
      this.platform.log('warn', 'the broker refused the hello', { code: error.code, message: error.message, field: error.field ?? null });
      this.screen.status(refusalLine(error));
    }
  }

  private applySettings(delta: SettingsDelta): void {
    const changed = this.settings.apply(delta);
    if (changed === null) return;
    if (Object.keys(changed).length > 0) this.reporter.update({ settings: changed });
    // Settings it already runs with are reported again: the broker still lists them, so it missed the report.
    const current = this.settings.current;
    const echo: Record<string, SettingValue> = {};
    for (const k of Object.keys(delta.settings)) if (current[k] !== undefined && !(k in changed)) echo[k] = current[k]!;
    if (Object.keys(echo).length > 0) this.reporter.resend({ settings: echo });
  }

  /**
   * Sets the clock from the broker's, plus half the round trip since the hello it answers: a site
   * without internet has no SNTP, and certificate dates and QR countdowns need real time.
   */
  private setClock(brokerNow: number, helloSentAt: number): void {
    this.helloSentAt = null;
    const roundTripMs = this.ticks() - this.startedAt - helloSentAt;
    if (!this.platform.setClock || roundTripMs < 0) return;
    const now = brokerNow + Math.round(roundTripMs / 2);
    const driftMs = now - this.platform.now();
    this.platform.setClock(now);
    this.platform.log('info', 'clock set from the broker', { roundTripMs, driftMs });
  }

  private onClose(identity: Identity, info: MqttCloseInfo): void {
    this.reporter.disconnected();
    if (info.refused !== undefined && CREDENTIALS_REFUSED.includes(info.refused)) this.enrollment.refused(identity.mode, info.refused);
    this.session.lost(info.reason ?? (info.refused !== undefined ? `CONNACK refused (${info.refused})` : 'connection closed'), false);
  }

  private machine(): string | undefined {
    const raw = this.platform.prefs.get('machine');
    if (!raw) return undefined;
    try {
      return normaliseMachineCode(raw, 'machine');
    } catch (e) {
      this.platform.log('warn', 'ignored an invalid machine code in preferences', { error: errorSummary(e) });
      return undefined;
    }
  }

  private ticks(): number {
    return this.platform.ticks ? this.platform.ticks() : this.platform.now();
  }

  private halt(reason: string): void {
    this.settleJoin(false);
    this.platform.log('error', 'not provisioned', { reason });
    this.screen.status(`Not provisioned: ${reason}`);
    this.set('unprovisioned');
  }

  /** Derives the state from the layers, so it can never disagree with them. */
  private refresh(): void {
    if (this.current === 'stopped' || this.current === 'unprovisioned') return;
    let next: CoreState;
    if (!this.link.up) next = 'wifi';
    else if (this.identity?.mode === 'enroll') next = 'enroll';
    else if (!this.session.open) next = 'mqtt';
    else next = this.runner.running === null ? 'ready' : 'busy';
    this.set(next);
  }

  private set(state: CoreState): void {
    if (state === this.current) return;
    this.current = state;
    this.options.onState?.(state);
  }
}

export function createCore(platform: Platform, options: Partial<CoreOptions> = {}): DeviceCore {
  return new DeviceCore(platform, options);
}
