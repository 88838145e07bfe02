// The broker's config message, applied: the agent and claim code on the screen, the clock from
// the broker's (answering this session's hello), the SNTP server, the settings delta, and a
// refusal of the hello shown where a technician looks (docs/architecture.md, Topic tree).
import { refusalLine } from './display-text';
import type { DeviceSettings } from './device-settings';
import type { Platform } from './platform';
import { readMessage } from './read-message';
import type { Screen } from './screen';
import type { StateReporter } from './state-reporter';
import { parseConfig } from '../../protocol/messages';
import type { SettingValue, SettingsDelta } from '../../protocol/machine-state';

export interface BrokerConfigParts {
  platform: Platform;
  screen: Screen;
  settings: DeviceSettings;
  reporter: StateReporter;
  /** Monotonic ms since the core started. */
  uptimeMs(): number;
}

export class BrokerConfig {
  /** Uptime ms of this session's hello, to measure the round trip of the config that answers it. */
  private helloSentAt: number | null = null;

  constructor(private readonly p: BrokerConfigParts) {}

  helloSent(atUptimeMs: number): void {
    this.helloSentAt = atUptimeMs;
  }

  apply(payload: string): void {
    const config = readMessage(this.p.platform, 'config', payload, parseConfig);
    if (config === null) return;
    if (config.time?.hello !== undefined && config.time.hello === this.helloSentAt) this.setClock(config.time.now, config.time.hello);
    const sntp = config.settings.sntp;
    if (typeof sntp === 'string' && sntp !== this.p.platform.prefs.get('sntp')) {
      this.p.platform.prefs.set('sntp', sntp);
      this.p.platform.log('info', 'SNTP server changed by the broker', { sntp });
    }
    if (config.delta !== undefined) this.applySettings(config.delta);
    const agent = config.agent;
    this.p.screen.show('agent', (d) => d.agent(agent === null ? null : agent.name, config.claimCode));
    this.p.platform.log('info', 'config', { agent: agent === null ? null : agent.id });
    // The broker refused the hello, or its machine code: someone must fix the firmware or the
    // enrollment, so say it where a technician looks (docs/architecture.md, Topic tree).
    const error = config.error;
    if (error !== undefined) {
      this.p.platform.log('warn', 'the broker refused the hello', { code: error.code, message: error.message, field: error.field ?? null });
      this.p.screen.status(refusalLine(error));
    }
  }

  private applySettings(delta: SettingsDelta): void {
    const changed = this.p.settings.apply(delta);
    if (changed === null) return;
    if (Object.keys(changed).length > 0) this.p.reporter.update({ settings: changed });
    // Settings it already runs with are reported again: the broker still lists them, so it missed the report.
    const current = this.p.settings.current;
    const echo: Record<string, SettingValue> = {};
    for (const k of Object.keys(delta.settings)) if (current[k] !== undefined && !(k in changed)) echo[k] = current[k]!;
    if (Object.keys(echo).length > 0) this.p.reporter.resend({ settings: echo });
  }

  /**
   * Sets the clock from the broker's, plus half the round trip since the hello it answers: a site
   * without internet has no SNTP, and certificate dates and QR countdowns need real time.
   */
  private setClock(brokerNow: number, helloSentAt: number): void {
    this.helloSentAt = null;
    const roundTripMs = this.p.uptimeMs() - helloSentAt;
    if (!this.p.platform.setClock || roundTripMs < 0) return;
    const now = brokerNow + Math.round(roundTripMs / 2);
    const driftMs = now - this.p.platform.now();
    this.p.platform.setClock(now);
    this.p.platform.log('info', 'clock set from the broker', { roundTripMs, driftMs });
  }
}
