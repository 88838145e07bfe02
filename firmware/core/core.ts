// The device: boot → (enroll) → wifi → mqtt → hello → ready ⇄ busy (docs/architecture.md, Firmware).
// Every Wi-Fi and MQTT loss goes through one backoff per layer, so the device comes back by
// itself after a broker restart, a Wi-Fi drop or rotated credentials. Every callback from the
// platform runs inside guard(): a bad message or a throwing adapter is logged, never fatal.
import { errorSummary } from './error-summary';
import { Backoff, DEFAULT_BACKOFF, checkBackoffOptions, type BackoffOptions } from './backoff';
import { parseBrokerAddress, type BrokerAddress } from './broker-address';
import { builtinHandlers } from './handlers/index';
import type { JobHandlers } from './job-handler';
import { JobRunner } from './job-runner';
import type { Display, MqttCloseInfo, MqttConnectOptions, Platform, TimerHandle, WifiStatus } from './platform';
import { normaliseMac, normaliseMachineCode } from '../../protocol/ids';
import { parseCmd, parseConfig, parseEnrollReply, type EnrollRequest, type Hello } from '../../protocol/messages';
import { deviceTopic, enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { parseJson } from '../../protocol/validate';

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

type Mode = 'device' | 'enroll';

export class DeviceCore {
  private readonly o: CoreOptions;
  private readonly runner: JobRunner;
  private readonly wifiBackoff: Backoff;
  private readonly mqttBackoff: Backoff;
  private current: CoreState = 'boot';
  private mac = '';
  private ssid = '';
  private broker: BrokerAddress | null = null;
  private startedAt = 0;
  private linkUp = false;
  private session: 'none' | 'connecting' | 'open' = 'none';
  private mode: Mode = 'device';
  private sessionId: string | null = null;
  /** The broker refused id+secret and a token is present: enroll instead. */
  private credentialsRefused = false;
  // Generations make callbacks from an abandoned attempt harmless.
  private wifiGen = 0;
  private mqttGen = 0;
  private wifiTimer: TimerHandle | null = null;
  private mqttTimer: TimerHandle | null = null;

  constructor(
    private readonly p: Platform,
    options: Partial<CoreOptions> = {},
  ) {
    this.o = { ...DEFAULT_CORE_OPTIONS, ...options };
    if (!(this.o.keepaliveS >= 1)) throw new Error('keepaliveS must be at least 1 second: the broker must notice a dead device');
    this.wifiBackoff = new Backoff(checkBackoffOptions(this.o.wifiBackoff, 'wifiBackoff'), () => p.random());
    this.mqttBackoff = new Backoff(checkBackoffOptions(this.o.mqttBackoff, 'mqttBackoff'), () => p.random());
    this.runner = new JobRunner(p, this.o.handlers ?? builtinHandlers(this.o.qrDisplayMs), p.facts.caps, this.o.dedupeSize, {
      publishAck: (text) => this.sessionId !== null && this.mode === 'device' && this.publish(deviceTopic(this.sessionId, 'ack'), text),
      onBusy: (kind) => {
        this.status(kind === null ? (this.session === 'open' ? 'Ready' : 'Offline') : `Busy: ${kind}`);
        this.refresh();
      },
    });
  }

  get state(): CoreState {
    return this.current;
  }

  stats(): CoreStats {
    return {
      state: this.current,
      deviceId: this.sessionId,
      wifiAttempts: this.wifiBackoff.attempts,
      mqttAttempts: this.mqttBackoff.attempts,
      rememberedJobs: this.runner.remembered,
      running: this.runner.running,
    };
  }

  start(): void {
    if (this.current !== 'boot') throw new Error(`start() called in state ${this.current}; a core starts once`);
    this.guard('start', () => {
      this.startedAt = this.ticks();
      this.status('Starting');
      try {
        this.mac = normaliseMac(this.p.facts.mac);
      } catch {
        return this.halt('the platform reports no valid MAC address');
      }
      const prefs = this.p.prefs;
      const ssid = prefs.get('ssid');
      if (!ssid) return this.halt('no Wi-Fi network (pref ssid)');
      this.ssid = ssid;
      this.broker = parseBrokerAddress(prefs.get('broker') ?? '');
      if (this.broker === null) return this.halt('no valid broker address (pref broker)');
      if (this.credentials() === null) return this.halt('neither device credentials (id, secret) nor an enrollment token (enroll)');
      this.connectWifi();
    });
  }

  stop(): void {
    this.guard('stop', () => {
      this.runner.stop();
      this.wifiGen++;
      this.mqttGen++;
      this.clearTimers();
      if (this.session !== 'none') this.p.mqtt.close();
      this.session = 'none';
      this.sessionId = null;
      if (this.current !== 'boot' && this.current !== 'unprovisioned') this.p.wifi.disconnect();
      this.linkUp = false;
      this.set('stopped');
    });
  }

  // ---- Wi-Fi ----

  private connectWifi(): void {
    const gen = ++this.wifiGen;
    this.clearWifiTimer();
    this.status('Connecting Wi-Fi');
    this.refresh();
    this.wifiTimer = this.p.setTimer(this.o.wifiTimeoutMs, () =>
      this.guard('wifi timeout', () => gen === this.wifiGen && this.wifiLost(`no IP address within ${this.o.wifiTimeoutMs} ms`)),
    );
    this.p.wifi.connect(this.ssid, this.p.prefs.get('psk') ?? '', (status) => this.guard('wifi status', () => this.onWifi(gen, status)));
  }

  private onWifi(gen: number, status: WifiStatus): void {
    if (gen !== this.wifiGen) return;
    if (status === 'gotip') {
      if (this.linkUp) return;
      this.linkUp = true;
      this.clearWifiTimer();
      this.wifiBackoff.reset();
      this.p.log('info', 'Wi-Fi up', { ssid: this.ssid });
      this.connectMqtt();
    } else if (status === 'disconnected' || status === 'lostip') {
      this.wifiLost(`Wi-Fi ${status}`);
    }
  }

  private wifiLost(reason: string): void {
    this.wifiGen++;
    this.linkUp = false;
    this.clearWifiTimer();
    this.closeSession();
    this.p.wifi.disconnect();
    const delay = this.wifiBackoff.next();
    this.p.log('warn', 'Wi-Fi down, retrying', { reason, retryInMs: delay, attempt: this.wifiBackoff.attempts });
    this.status(`Wi-Fi down, retry in ${Math.ceil(delay / 1000)} s`);
    this.refresh();
    this.wifiTimer = this.p.setTimer(delay, () => this.guard('wifi retry', () => this.connectWifi()));
  }

  // ---- MQTT session ----

  /** Which identity to connect with now, or null when there is none. */
  private credentials(): { mode: Mode; id: string | null; password: string } | null {
    const prefs = this.p.prefs;
    const id = prefs.get('id');
    const secret = prefs.get('secret');
    const token = prefs.get('enroll');
    if (id && secret && !(this.credentialsRefused && token)) return { mode: 'device', id, password: secret };
    if (token) return { mode: 'enroll', id: null, password: token };
    return null;
  }

  private connectMqtt(): void {
    if (!this.linkUp || this.broker === null) return;
    this.clearMqttTimer();
    const creds = this.credentials();
    if (creds === null) return this.halt('credentials disappeared from preferences');
    const gen = ++this.mqttGen;
    this.mode = creds.mode;
    this.session = 'connecting';
    this.sessionId = creds.id;
    const options: MqttConnectOptions = {
      host: this.broker.host,
      port: this.broker.port,
      secure: this.broker.secure,
      clientId: creds.id ?? `enroll-${this.mac}`,
      username: creds.id ?? 'enroll',
      password: creds.password,
      keepalive: this.o.keepaliveS,
    };
    if (creds.id !== null) options.will = { topic: deviceTopic(creds.id, 'status'), payload: OFFLINE, retain: true };
    this.p.log('info', 'connecting to broker', { host: options.host, port: options.port, clientId: options.clientId, mode: creds.mode });
    this.status(creds.mode === 'enroll' ? 'Enrolling' : 'Connecting broker');
    this.refresh();
    this.mqttTimer = this.p.setTimer(this.o.connectTimeoutMs, () =>
      this.guard('mqtt timeout', () => gen === this.mqttGen && this.sessionLost(`no CONNACK within ${this.o.connectTimeoutMs} ms`, true)),
    );
    this.p.mqtt.connect(options, {
      onReady: () => this.guard('mqtt ready', () => gen === this.mqttGen && this.onReady()),
      onMessage: (topic, payload) => this.guard('mqtt message', () => gen === this.mqttGen && this.onMessage(topic, payload)),
      onClose: (info) => this.guard('mqtt close', () => gen === this.mqttGen && this.onClose(info)),
    });
  }

  private onReady(): void {
    this.clearMqttTimer();
    this.session = 'open';
    if (this.mode === 'enroll') {
      const gen = this.mqttGen;
      this.p.mqtt.subscribe(enrollReplyTopic(this.mac));
      const request: EnrollRequest = { mac: this.mac, model: this.p.facts.model, fw: this.p.facts.fw };
      const machine = this.machine();
      if (machine !== undefined) request.machine = machine;
      this.publish(enrollTopic(this.mac), JSON.stringify(request));
      this.p.log('info', 'enrollment requested', { mac: this.mac });
      this.mqttTimer = this.p.setTimer(this.o.enrollReplyTimeoutMs, () =>
        this.guard('enroll timeout', () => gen === this.mqttGen && this.sessionLost(`no enrollment reply within ${this.o.enrollReplyTimeoutMs} ms`, true)),
      );
      this.refresh();
      return;
    }
    const id = this.sessionId as string;
    this.credentialsRefused = false;
    this.p.mqtt.subscribe(deviceTopic(id, 'config'));
    this.p.mqtt.subscribe(deviceTopic(id, 'cmd'));
    this.publish(deviceTopic(id, 'status'), ONLINE, true);
    this.set('hello');
    const f = this.p.facts;
    const hello: Hello = { fw: f.fw, model: f.model, mac: this.mac, caps: f.caps, boot: f.boot, uptime: Math.floor((this.ticks() - this.startedAt) / 1000) };
    const machine = this.machine();
    if (machine !== undefined) hello.machine = machine;
    this.publish(deviceTopic(id, 'hello'), JSON.stringify(hello));
    this.mqttBackoff.reset();
    this.p.log('info', 'online', { deviceId: id });
    this.status(this.runner.running === null ? 'Ready' : `Busy: ${this.runner.running.kind}`);
    this.refresh();
    this.runner.flushUnsent();
  }

  private onMessage(topic: string, payload: string): void {
    if (payload.length > this.o.maxPayloadChars) {
      this.p.log('warn', 'dropped an oversized message', { topic: topic.slice(0, 96), chars: payload.length, limit: this.o.maxPayloadChars });
      return;
    }
    if (this.mode === 'enroll') {
      if (topic === enrollReplyTopic(this.mac)) this.onEnrollReply(payload);
      else this.p.log('warn', 'message on an unexpected topic while enrolling', { topic: topic.slice(0, 96) });
      return;
    }
    const id = this.sessionId as string;
    if (topic === deviceTopic(id, 'cmd')) this.onCmd(payload);
    else if (topic === deviceTopic(id, 'config')) this.onConfig(payload);
    else this.p.log('warn', 'message on an unexpected topic', { topic: topic.slice(0, 96) });
  }

  /** Parses a message from the broker with protocol/'s validator; a malformed one is logged and dropped. */
  private read<T>(what: string, payload: string, parse: (value: unknown) => T): T | null {
    try {
      return parse(parseJson(payload));
    } catch (e) {
      this.p.log('warn', `ignored a malformed ${what}`, { error: errorSummary(e), chars: payload.length });
      return null;
    }
  }

  private onEnrollReply(payload: string): void {
    const reply = this.read('enrollment reply', payload, parseEnrollReply);
    if (reply === null) return;
    if (!reply.ok) {
      this.p.log('error', 'enrollment refused', { code: reply.error.code, message: reply.error.message.slice(0, 200) });
      this.sessionLost(`enrollment refused: ${reply.error.code}`, true);
      return;
    }
    const prefs = this.p.prefs;
    prefs.set('id', reply.deviceId);
    prefs.set('secret', reply.secret);
    prefs.remove('enroll');
    this.credentialsRefused = false;
    this.p.log('info', 'enrolled', { deviceId: reply.deviceId });
    this.closeSession();
    this.mqttBackoff.reset();
    this.connectMqtt();
  }

  private onCmd(payload: string): void {
    const cmd = this.read('cmd', payload, parseCmd);
    if (cmd !== null) this.runner.handle(cmd);
  }

  private onConfig(payload: string): void {
    const config = this.read('config', payload, parseConfig);
    if (config === null) return;
    const agent = config.agent;
    this.show('agent', (d) => d.agent(agent === null ? null : agent.name, config.claimCode));
    this.p.log('info', 'config', { agent: agent === null ? null : agent.id });
  }

  private onClose(info: MqttCloseInfo): void {
    const refused = info.refused !== undefined && CREDENTIALS_REFUSED.includes(info.refused);
    if (refused && this.mode === 'device') {
      if (this.p.prefs.get('enroll')) {
        this.credentialsRefused = true;
        this.p.log('warn', 'the broker refused the stored credentials; enrolling again with the token', { code: info.refused });
      } else {
        this.p.log('error', 'the broker refused the stored credentials and there is no enrollment token', { code: info.refused });
      }
    } else if (refused) {
      this.p.log('error', 'the broker refused the enrollment token', { code: info.refused });
    }
    this.sessionLost(info.reason ?? (info.refused !== undefined ? `CONNACK refused (${info.refused})` : 'connection closed'), false);
  }

  /** The session ended or must end; retry with backoff while the link is up. */
  private sessionLost(reason: string, closeIt: boolean): void {
    if (closeIt) this.closeSession();
    else this.forgetSession();
    if (!this.linkUp) return;
    const delay = this.mqttBackoff.next();
    this.p.log('warn', 'broker connection lost, retrying', { reason, retryInMs: delay, attempt: this.mqttBackoff.attempts });
    this.status(`Broker offline, retry in ${Math.ceil(delay / 1000)} s`);
    this.refresh();
    this.mqttTimer = this.p.setTimer(delay, () => this.guard('mqtt retry', () => this.connectMqtt()));
  }

  /** Ends the session from our side (no onClose follows close()). */
  private closeSession(): void {
    const open = this.session !== 'none';
    this.forgetSession();
    if (open) this.p.mqtt.close();
  }

  private forgetSession(): void {
    this.mqttGen++;
    this.clearMqttTimer();
    this.session = 'none';
  }

  private publish(topic: string, payload: string, retain = false): boolean {
    if (this.session !== 'open') return false;
    try {
      this.p.mqtt.publish(topic, payload, retain);
      return true;
    } catch (e) {
      // The socket may die between onClose events; the session's own close path will retry.
      this.p.log('warn', 'publish failed', { topic: topic.slice(0, 96), error: errorSummary(e) });
      return false;
    }
  }

  private status(line: string): void {
    this.show('status', (d) => d.status(line));
  }

  /** The screen is a courtesy: a broken display must never keep the device offline. */
  private show(what: string, fn: (display: Display) => void): void {
    try {
      fn(this.p.display);
    } catch (e) {
      this.p.log('error', 'display adapter threw', { where: what, error: errorSummary(e) });
    }
  }

  // ---- helpers ----

  private machine(): string | undefined {
    const raw = this.p.prefs.get('machine');
    if (!raw) return undefined;
    try {
      return normaliseMachineCode(raw, 'machine');
    } catch (e) {
      this.p.log('warn', 'ignored an invalid machine code in preferences', { error: errorSummary(e) });
      return undefined;
    }
  }

  private ticks(): number {
    return this.p.ticks ? this.p.ticks() : this.p.now();
  }

  private halt(reason: string): void {
    this.p.log('error', 'not provisioned', { reason });
    this.status(`Not provisioned: ${reason}`);
    this.set('unprovisioned');
  }

  /** Derives the state from the layers, so it can never disagree with them. */
  private refresh(): void {
    if (this.current === 'stopped' || this.current === 'unprovisioned') return;
    let next: CoreState;
    if (!this.linkUp) next = 'wifi';
    else if (this.mode === 'enroll') next = 'enroll';
    else if (this.session !== 'open') next = 'mqtt';
    else next = this.runner.running === null ? 'ready' : 'busy';
    this.set(next);
  }

  private set(state: CoreState): void {
    if (state === this.current) return;
    this.current = state;
    this.o.onState?.(state);
  }

  private guard(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      this.p.log('error', 'core callback threw; carrying on', { where: what, error: errorSummary(e) });
    }
  }

  private clearWifiTimer(): void {
    if (this.wifiTimer !== null) this.p.clearTimer(this.wifiTimer);
    this.wifiTimer = null;
  }

  private clearMqttTimer(): void {
    if (this.mqttTimer !== null) this.p.clearTimer(this.mqttTimer);
    this.mqttTimer = null;
  }

  private clearTimers(): void {
    this.clearWifiTimer();
    this.clearMqttTimer();
  }
}

export function createCore(platform: Platform, options: Partial<CoreOptions> = {}): DeviceCore {
  return new DeviceCore(platform, options);
}
