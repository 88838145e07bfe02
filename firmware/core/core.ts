// The device: boot → (enroll) → wifi → mqtt → hello → ready ⇄ busy (docs/architecture.md, Firmware).
// A small coordinator over three layers: the Wi-Fi link, the MQTT session and enrollment. Each
// layer owns its own backoff, so the device comes back by itself after a broker restart, a
// Wi-Fi drop or rotated credentials. Every callback from the platform runs inside a guard: a bad
// message or a throwing adapter is logged, never fatal.
import { checkBackoffOptions } from './backoff';
import { BrokerConfig } from './broker-config';
import { type CoreOptions, type CoreState, DEFAULT_CORE_OPTIONS } from './core-options';
import { deviceRandom } from './device-random';
import { DeviceSettings } from './device-settings';
import { Enrollment, type Identity } from './enrollment';
import { guardWith, type Guard } from './guard';
import { builtinHandlers } from './handlers/index';
import { helloOf, machineCode } from './hello';
import { JobRunner } from './job-runner';
import { MachineLink } from './machine-link';
import { MqttSession } from './mqtt-session';
import { OtaTrial } from './ota-trial';
import type { MqttCloseInfo, Platform } from './platform';
import { connectOptions, type Provisioning, readProvisioning } from './provisioning';
import { readMessage } from './read-message';
import { Screen } from './screen';
import { StateReporter } from './state-reporter';
import { WifiLink } from './wifi-link';
import { normaliseMac } from '../../protocol/ids';
import { parseCmd } from '../../protocol/messages';
import type { ReportedState, SettingValue } from '../../protocol/machine-state';
import { deviceTopic } from '../../protocol/topics';

/** MQTT 3.1.1 CONNACK codes that mean "these credentials are wrong", not "try later". */
const CREDENTIALS_REFUSED = [4, 5];
const ONLINE = JSON.stringify({ state: 'online' });

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
  private readonly config: BrokerConfig;
  private provisioning: Provisioning | null = null;
  private startedAt = 0;
  /** The identity of the current (or last) session; its id is the device id once connected as the device. */
  private identity: Identity | null = null;
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
    this.config = new BrokerConfig({
      platform,
      screen: this.screen,
      settings: this.settings,
      reporter: this.reporter,
      uptimeMs: () => this.uptimeMs(),
    });
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
      const found = readProvisioning(this.platform, this.enrollment.identity() !== null);
      if (typeof found === 'string') return this.halt(found);
      this.provisioning = found;
      if (!found.transport.secure)
        this.platform.log('warn', 'plain MQTT: the device secret crosses the network in clear (insecure=1)', { broker: found.broker.host });
      this.link.start(found.ssid);
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
    const provisioning = this.provisioning;
    if (!this.link.up || provisioning === null) return;
    const identity = this.enrollment.identity();
    if (identity === null) return this.halt('credentials disappeared from preferences');
    this.identity = identity;
    const options = connectOptions(provisioning, identity, this.mac, this.options.keepaliveS);
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
      this.enrollment.request(this.mac, machineCode(this.platform));
      this.refresh();
      return;
    }
    const id = identity.id;
    this.enrollment.accepted();
    this.session.subscribe(deviceTopic(id, 'config'));
    this.session.subscribe(deviceTopic(id, 'cmd'));
    this.session.publish(deviceTopic(id, 'status'), ONLINE, true);
    this.set('hello');
    const sentAt = Math.floor(this.uptimeMs());
    this.config.helloSent(sentAt);
    const ota = this.trial.reached();
    const hello = helloOf(this.platform, this.mac, sentAt, ota);
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
    else if (topic === deviceTopic(identity.id, 'config')) this.config.apply(payload);
    else this.platform.log('warn', 'message on an unexpected topic', { topic: topic.slice(0, 96) });
  }

  private onCmd(payload: string): void {
    const cmd = readMessage(this.platform, 'cmd', payload, parseCmd);
    if (cmd !== null) this.runner.handle(cmd);
  }

  private onClose(identity: Identity, info: MqttCloseInfo): void {
    this.reporter.disconnected();
    if (info.refused !== undefined && CREDENTIALS_REFUSED.includes(info.refused)) this.enrollment.refused(identity.mode, info.refused);
    this.session.lost(info.reason ?? (info.refused !== undefined ? `CONNACK refused (${info.refused})` : 'connection closed'), false);
  }

  private ticks(): number {
    return this.platform.ticks ? this.platform.ticks() : this.platform.now();
  }

  private uptimeMs(): number {
    return this.ticks() - this.startedAt;
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
