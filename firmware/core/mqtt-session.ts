// One MQTT session at a time: the CONNACK deadline, deadlines for replies the session waits
// for, and one backoff for every loss. The session never reconnects by itself: it asks the
// coordinator through `retry`, which decides with which identity.
import { Backoff, type BackoffOptions } from './backoff';
import { errorSummary } from './error-summary';
import type { Guard } from './guard';
import type { MqttCloseInfo, MqttConnectOptions, Platform, TimerHandle } from './platform';
import type { Screen } from './screen';

export interface MqttSessionOptions {
  /** No CONNACK within this → drop and retry. */
  connectTimeoutMs: number;
  backoff: BackoffOptions;
  /** Uniform in [0, 1), for the backoff's jitter. */
  random(): number;
}

export interface SessionHandlers {
  ready(): void;
  message(topic: string, payload: string): void;
  closed(info: MqttCloseInfo): void;
}

export interface MqttSessionEvents {
  /** Whether a lost session may be retried now (the link under it is up). */
  canRetry(): boolean;
  /** Time to connect again. */
  retry(): void;
  changed(): void;
}

type SessionState = 'none' | 'connecting' | 'open';

export class MqttSession {
  private readonly backoff: Backoff;
  private state: SessionState = 'none';
  // A generation makes callbacks from an abandoned connection harmless.
  private generation = 0;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly options: MqttSessionOptions,
    private readonly screen: Screen,
    private readonly guard: Guard,
    private readonly events: MqttSessionEvents,
  ) {
    this.backoff = new Backoff(options.backoff, () => options.random());
  }

  get open(): boolean {
    return this.state === 'open';
  }

  get attempts(): number {
    return this.backoff.attempts;
  }

  resetBackoff(): void {
    this.backoff.reset();
  }

  connect(options: MqttConnectOptions, handlers: SessionHandlers): void {
    this.clearTimer();
    const generation = ++this.generation;
    this.state = 'connecting';
    const { connectTimeoutMs } = this.options;
    this.timer = this.platform.setTimer(connectTimeoutMs, () =>
      this.guard('mqtt timeout', () => generation === this.generation && this.lost(`no CONNACK within ${connectTimeoutMs} ms`, true)),
    );
    this.platform.mqtt.connect(options, {
      onReady: () =>
        this.guard('mqtt ready', () => {
          if (generation !== this.generation) return;
          this.clearTimer();
          this.state = 'open';
          handlers.ready();
        }),
      onMessage: (topic, payload) => this.guard('mqtt message', () => generation === this.generation && handlers.message(topic, payload)),
      onClose: (info) => this.guard('mqtt close', () => generation === this.generation && handlers.closed(info)),
    });
  }

  /** The open session must hear back within `ms`, or it is closed and retried. */
  expectReply(ms: number, what: string): void {
    const generation = this.generation;
    this.clearTimer();
    this.timer = this.platform.setTimer(ms, () =>
      this.guard(`${what} timeout`, () => generation === this.generation && this.lost(`no ${what} within ${ms} ms`, true)),
    );
  }

  subscribe(topic: string): void {
    this.platform.mqtt.subscribe(topic);
  }

  publish(topic: string, payload: string, retain = false): boolean {
    if (this.state !== 'open') return false;
    try {
      this.platform.mqtt.publish(topic, payload, retain);
      return true;
    } catch (e) {
      // The socket may die between onClose events; the session's own close path will retry.
      this.platform.log('warn', 'publish failed', { topic: topic.slice(0, 96), error: errorSummary(e) });
      return false;
    }
  }

  /** The session ended (`closeIt` false: the adapter already said so) or must end; retry with backoff while the link is up. */
  lost(reason: string, closeIt: boolean): void {
    if (closeIt) this.close();
    else this.forget();
    if (!this.events.canRetry()) return;
    const delay = this.backoff.next();
    this.platform.log('warn', 'broker connection lost, retrying', { reason, retryInMs: delay, attempt: this.backoff.attempts });
    this.screen.status(`Broker offline, retry in ${Math.ceil(delay / 1000)} s`);
    this.events.changed();
    this.timer = this.platform.setTimer(delay, () => this.guard('mqtt retry', () => this.events.retry()));
  }

  /** Ends the session from our side (no onClose follows close()). */
  close(): void {
    const wasOpen = this.state !== 'none';
    this.forget();
    if (wasOpen) this.platform.mqtt.close();
  }

  private forget(): void {
    this.generation++;
    this.clearTimer();
    this.state = 'none';
  }

  private clearTimer(): void {
    if (this.timer !== null) this.platform.clearTimer(this.timer);
    this.timer = null;
  }
}
