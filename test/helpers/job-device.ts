// A scripted device for job tests, running the firmware's own job runner (firmware/core/
// job-runner.ts) on Node behind the simulator's platform: accepted at once, dedupe by job id,
// BUSY while a job runs, cancel and completion, resent final acks, all as a board does them. What
// the test scripts is only what a board cannot be told to do: how long a job takes or that it
// holds until cancelled or completed (the handlers below), and faults on the way in (the MQTT
// adapter drops cmds: the first of each job, or all of them). Its MQTT session is a real mqtt.js
// client on the device's credentials.
import type { MqttClient } from 'mqtt';
import { type DeviceKind, isDeviceKind, type JobContext, type JobHandler, type JobHandlers, type JobRun } from '../../firmware/core/job-handler';
import { DEFAULT_CORE_OPTIONS } from '../../firmware/core/core-options';
import { JobRunner } from '../../firmware/core/job-runner';
import type { Platform } from '../../firmware/core/platform';
import { NodeMqtt } from '../../host-tools/simulate/sim-mqtt';
import { SimDisplay } from '../../host-tools/simulate/sim-display';
import { MemoryPrefs } from '../../host-tools/simulate/sim-prefs';
import { SimWifi } from '../../host-tools/simulate/sim-wifi';
import type { Ack, Cmd } from '../../protocol/messages';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import type { Dev } from '../scenarios/fleet';
import { connectDevice, helloOf } from './broker';
import { end, publish } from './mqtt';

export type Mode =
  /** accepted, then done after durationMs */
  | 'run'
  /** accepted, then nothing until cancelled or completed */
  | 'hold'
  /** never answers: every cmd is lost on the way in */
  | 'silent';

export interface JobDeviceOptions {
  mode?: Mode;
  durationMs?: number;
  /** Lose the first cmd of every job (a lost QoS 0 message). */
  dropFirst?: boolean;
  caps?: string[];
  /** Announced in hello: the broker checks each qr.show against it. */
  screen?: { width: number; height: number };
}

export class JobDevice {
  client!: MqttClient;
  mode: Mode;
  durationMs: number;
  dropFirst: boolean;
  /** Every cmd received, in order (lost ones included). */
  readonly cmds: Cmd[] = [];
  /** Job ids in the order they started running (a job that runs twice appears twice). */
  readonly runs: string[] = [];
  private readonly seen = new Set<string>();
  /** The running job's context, through which a scripted final ack ends it in the runner. */
  private readonly contexts = new Map<string, JobContext>();
  private readonly platform: Platform;
  private readonly caps: string[];
  private runner!: JobRunner;

  private constructor(
    private url: string,
    readonly dev: Dev,
    readonly opts: JobDeviceOptions,
  ) {
    this.mode = opts.mode ?? 'run';
    this.durationMs = opts.durationMs ?? 20;
    this.dropFirst = opts.dropFirst ?? false;
    this.caps = opts.caps ?? (helloOf(dev).caps as string[]);
    const display = new SimDisplay({ label: dev.id });
    this.platform = {
      now: () => Date.now(),
      random: () => Math.random(),
      setTimer: (ms, callback) => setTimeout(callback, ms),
      clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
      log: () => undefined,
      prefs: new MemoryPrefs(),
      wifi: new SimWifi(() => 0),
      // The runner publishes through its hooks (below), never through the platform's MQTT.
      mqtt: new NodeMqtt(),
      display,
      identify: (seconds) => display.identify(seconds),
      facts: { mac: dev.mac, model: 'test-board', fw: '1.0.0', caps: this.caps, boot: 1 },
    };
    this.boot();
  }

  static async connect(url: string, dev: Dev, opts: JobDeviceOptions = {}): Promise<JobDevice> {
    const d = new JobDevice(url, dev, opts);
    await d.open();
    return d;
  }

  get id(): string {
    return this.dev.id;
  }

  /** A fresh runner: what a board has after power-on (an empty dedupe ring, nothing running). */
  private boot(): void {
    this.runner?.stop();
    this.contexts.clear();
    const handlers: JobHandlers = {};
    for (const kind of this.caps) if (isDeviceKind(kind)) (handlers as Record<DeviceKind, JobHandler>)[kind] = this.scripted(kind);
    this.runner = new JobRunner(this.platform, handlers, this.caps, DEFAULT_CORE_OPTIONS.dedupeSize, {
      publishAck: (text) => {
        if (!this.client?.connected) return false;
        this.client.publish(deviceTopic(this.dev.id, 'ack'), text);
        return true;
      },
      onBusy: () => undefined,
    });
  }

  /** A job of any kind that takes durationMs, or holds until cancelled or completed. */
  private scripted(kind: DeviceKind): JobHandler {
    return {
      kind,
      available: () => true,
      start: (_params, ctx): JobRun => {
        this.runs.push(ctx.job);
        this.contexts.set(ctx.job, ctx);
        const timer = this.mode === 'hold' ? null : setTimeout(() => ctx.done({ ok: true }), this.durationMs);
        return {
          cancel: () => {
            if (timer) clearTimeout(timer);
            this.contexts.delete(ctx.job);
          },
          complete: () => {
            if (timer) clearTimeout(timer);
            ctx.done({ paid: true });
          },
        };
      },
    };
  }

  private async open(): Promise<void> {
    const attach = (client: MqttClient): void => {
      this.client = client;
      client.on('message', (topic, payload) => {
        if (topic !== deviceTopic(this.dev.id, 'cmd')) return;
        this.onCmd(JSON.parse(payload.toString('utf8')) as Cmd);
      });
    };
    await connectDevice(this.url, this.dev, {
      ...(this.opts.caps ? { caps: this.opts.caps } : {}),
      ...(this.opts.screen ? { screen: this.opts.screen } : {}),
      attach,
    });
    // As the core does once a session is up: final acks that found no session go out now.
    this.runner.flushUnsent();
  }

  /** Drops the connection abruptly (no DISCONNECT), as a power cut or Wi-Fi loss would. */
  async drop(): Promise<void> {
    // Already closed (the broker ended it): no second 'close' will come.
    if (this.client.connected) {
      const closed = new Promise<void>((r) => this.client.once('close', () => r()));
      this.client.stream.destroy();
      await closed;
    }
    this.client.end(true);
  }

  /**
   * Connects again (to another broker node when url is given); with reboot the device forgets
   * what it ran (its dedupe ring and running job).
   */
  async reconnect(reboot = false, url = this.url): Promise<void> {
    this.url = url;
    if (reboot) {
      this.seen.clear();
      this.boot();
    }
    await this.open();
  }

  async close(): Promise<void> {
    this.runner.stop();
    await end(this.client);
  }

  /**
   * Sends an ack the test scripts. A final one for the running job ends it in the runner, which
   * sends it (and then answers a resent cmd with it, as a board does); any other goes out as is.
   */
  ack(ack: Ack): Promise<void> {
    const ctx = this.runner.running?.job === ack.job ? this.contexts.get(ack.job) : undefined;
    if (ctx && (ack.state === 'done' || ack.state === 'failed')) {
      this.contexts.delete(ack.job);
      if (ack.state === 'done') ctx.done(ack.result);
      else ctx.fail(ack.error ?? 'failed');
      return Promise.resolve();
    }
    if (ctx && ack.state === 'cancelled') {
      this.contexts.delete(ack.job);
      this.runner.handle({ job: ack.job, kind: this.runner.running?.kind ?? '', params: {}, attempt: 1, deadline: 0, cancel: true });
      return Promise.resolve();
    }
    return publish(this.client, deviceTopic(this.dev.id, 'ack'), ack);
  }

  evt(stream: string, body: unknown): Promise<void> {
    return publish(this.client, eventTopic(this.dev.id, stream), body);
  }

  isRunning(job: string): boolean {
    return this.runner.running?.job === job;
  }

  /** The MQTT adapter: records every cmd and loses those the mode says, then hands the rest to the runner. */
  private onCmd(cmd: Cmd): void {
    this.cmds.push(cmd);
    if (this.mode === 'silent') return;
    const first = !this.seen.has(cmd.job);
    this.seen.add(cmd.job);
    if (first && this.dropFirst && !cmd.cancel && !cmd.complete) return;
    this.runner.handle(cmd);
  }
}
