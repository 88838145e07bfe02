// The Wi-Fi layer: one connection attempt at a time, a deadline for the IP address, and one
// backoff for every loss, so the device rejoins by itself after an access point comes back.
import { Backoff, type BackoffOptions } from './backoff';
import type { Guard } from './guard';
import type { Platform, TimerHandle, WifiStatus } from './platform';
import type { Screen } from './screen';

export interface WifiLinkOptions {
  /** No IP address within this → drop and retry. */
  timeoutMs: number;
  backoff: BackoffOptions;
  /** Uniform in [0, 1), for the backoff's jitter. */
  random(): number;
}

export interface WifiLinkEvents {
  /** The network is usable. */
  up(): void;
  /** The link went away; whatever ran over it is already dead. Called before the retry is scheduled. */
  down(): void;
  /** Something the coordinator derives its state from changed. */
  changed(): void;
}

export class WifiLink {
  private readonly backoff: Backoff;
  private ssid = '';
  private isUp = false;
  // A generation makes callbacks from an abandoned attempt harmless.
  private generation = 0;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly options: WifiLinkOptions,
    private readonly screen: Screen,
    private readonly guard: Guard,
    private readonly events: WifiLinkEvents,
  ) {
    this.backoff = new Backoff(options.backoff, () => options.random());
  }

  get up(): boolean {
    return this.isUp;
  }

  get attempts(): number {
    return this.backoff.attempts;
  }

  start(ssid: string): void {
    this.ssid = ssid;
    this.connect();
  }

  /** Ends the link for good; `disconnect` only when the radio was ever asked to connect. */
  stop(disconnect: boolean): void {
    this.generation++;
    this.clearTimer();
    if (disconnect) this.platform.wifi.disconnect();
    this.isUp = false;
  }

  private connect(): void {
    const generation = ++this.generation;
    this.clearTimer();
    this.screen.status('Connecting Wi-Fi');
    this.events.changed();
    const { timeoutMs } = this.options;
    this.timer = this.platform.setTimer(timeoutMs, () =>
      this.guard('wifi timeout', () => generation === this.generation && this.lost(`no IP address within ${timeoutMs} ms`)),
    );
    this.platform.wifi.connect(this.ssid, this.platform.prefs.get('psk') ?? '', (status) => this.guard('wifi status', () => this.onStatus(generation, status)));
  }

  private onStatus(generation: number, status: WifiStatus): void {
    if (generation !== this.generation) return;
    if (status === 'gotip') {
      if (this.isUp) return;
      this.isUp = true;
      this.clearTimer();
      this.backoff.reset();
      this.platform.log('info', 'Wi-Fi up', { ssid: this.ssid });
      this.events.up();
    } else if (status === 'disconnected' || status === 'lostip') {
      this.lost(`Wi-Fi ${status}`);
    }
  }

  private lost(reason: string): void {
    this.generation++;
    this.isUp = false;
    this.clearTimer();
    this.events.down();
    this.platform.wifi.disconnect();
    const delay = this.backoff.next();
    this.platform.log('warn', 'Wi-Fi down, retrying', { reason, retryInMs: delay, attempt: this.backoff.attempts });
    this.screen.status(`Wi-Fi down, retry in ${Math.ceil(delay / 1000)} s`);
    this.events.changed();
    this.timer = this.platform.setTimer(delay, () => this.guard('wifi retry', () => this.connect()));
  }

  private clearTimer(): void {
    if (this.timer !== null) this.platform.clearTimer(this.timer);
    this.timer = null;
  }
}
