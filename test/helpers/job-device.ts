// A scripted device for job tests: a real mqtt.js client on the device's credentials that
// answers cmds the way the firmware's job runner does (accepted at once, dedupe by job id,
// cancel and completion), with switches to misbehave (drop first cmds, never answer, hold).
import type { MqttClient } from 'mqtt';
import type { Ack, Cmd } from '../../protocol/messages';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import type { Dev } from '../scenarios/fleet';
import { connectDevice } from './broker';
import { end, publish } from './mqtt';

export type Mode =
  /** accepted, then done after durationMs */
  | 'run'
  /** accepted, then nothing until cancelled or completed */
  | 'hold'
  /** never answers */
  | 'silent';

export interface JobDeviceOptions {
  mode?: Mode;
  durationMs?: number;
  /** Ignore the first cmd of every job (a lost QoS 0 message). */
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
  /** Every cmd received, in order. */
  readonly cmds: Cmd[] = [];
  /** Job ids in the order they started running (a job that runs twice appears twice). */
  readonly runs: string[] = [];
  private readonly seen = new Set<string>();
  private readonly finished = new Map<string, Ack>();
  private readonly running = new Map<string, NodeJS.Timeout | null>();

  private constructor(
    private url: string,
    readonly dev: Dev,
    readonly opts: JobDeviceOptions,
  ) {
    this.mode = opts.mode ?? 'run';
    this.durationMs = opts.durationMs ?? 20;
    this.dropFirst = opts.dropFirst ?? false;
  }

  static async connect(url: string, dev: Dev, opts: JobDeviceOptions = {}): Promise<JobDevice> {
    const d = new JobDevice(url, dev, opts);
    await d.open();
    return d;
  }

  get id(): string {
    return this.dev.id;
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
   * what it ran (its dedupe ring and running jobs).
   */
  async reconnect(reboot = false, url = this.url): Promise<void> {
    this.url = url;
    if (reboot) {
      for (const t of this.running.values()) if (t) clearTimeout(t);
      this.running.clear();
      this.finished.clear();
      this.seen.clear();
    }
    await this.open();
  }

  async close(): Promise<void> {
    for (const t of this.running.values()) if (t) clearTimeout(t);
    await end(this.client);
  }

  ack(ack: Ack): Promise<void> {
    if (ack.state === 'done' || ack.state === 'failed' || ack.state === 'cancelled' || ack.state === 'rejected') {
      const t = this.running.get(ack.job);
      if (t) clearTimeout(t);
      this.running.delete(ack.job);
      this.finished.set(ack.job, ack);
    }
    return publish(this.client, deviceTopic(this.dev.id, 'ack'), ack);
  }

  evt(stream: string, body: unknown): Promise<void> {
    return publish(this.client, eventTopic(this.dev.id, stream), body);
  }

  isRunning(job: string): boolean {
    return this.running.has(job);
  }

  private onCmd(cmd: Cmd): void {
    this.cmds.push(cmd);
    if (this.mode === 'silent') return;
    const first = !this.seen.has(cmd.job);
    this.seen.add(cmd.job);
    if (cmd.cancel) {
      if (this.running.has(cmd.job) || !this.finished.has(cmd.job)) void this.ack({ job: cmd.job, state: 'cancelled' });
      else void this.ack(this.finished.get(cmd.job)!);
      return;
    }
    if (cmd.complete) {
      if (this.running.has(cmd.job)) void this.ack({ job: cmd.job, state: 'done', result: { paid: true } });
      else if (this.finished.has(cmd.job)) void this.ack(this.finished.get(cmd.job)!);
      return;
    }
    if (first && this.dropFirst) return;
    if (this.running.has(cmd.job)) {
      void this.ack({ job: cmd.job, state: 'accepted' });
      return;
    }
    const done = this.finished.get(cmd.job);
    if (done) {
      void this.ack(done);
      return;
    }
    this.runs.push(cmd.job);
    void this.ack({ job: cmd.job, state: 'accepted' });
    if (this.mode === 'hold') {
      this.running.set(cmd.job, null);
      return;
    }
    this.running.set(
      cmd.job,
      setTimeout(() => void this.ack({ job: cmd.job, state: 'done', result: { ok: true } }), this.durationMs),
    );
  }
}
