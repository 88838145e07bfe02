// N simulated devices against one broker, each the real firmware core, with the counts a
// progress display needs and, with chaos on, random Wi-Fi and connection drops.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CoreOptions, CoreState } from '../../firmware/core/core-options';
import type { PrefKey } from '../../firmware/core/platform';
import { normaliseMachineCode } from '../../protocol/ids';
import { readPending } from '../../firmware/core/ota-pending';
import { SimDevice } from './device';
import type { PrinterOptions } from './sim-printer';
import { SimOta } from './sim-ota';
import { FilePrefs, MemoryPrefs } from './sim-prefs';

export interface FleetOptions {
  devices: number;
  /** mqtt://host:port or mqtts://host:port as the devices store it in their `broker` preference. */
  broker: string;
  /** PEM of the broker's CA, provisioned as pref `ca`; without it the devices use plain MQTT (insecure=1). */
  ca?: string;
  enrollToken?: string;
  /** Machine codes are <prefix><n>, n from 1, four digits at least. */
  machinesPrefix: string;
  /** One JSON file of preferences per device; without it devices live in memory. */
  stateDir?: string;
  pngDir?: string;
  /** Mean time between chaos events per device, ms; undefined for no chaos. */
  chaosMeanMs?: number;
  /** Starts are spread evenly over this many ms. */
  rampMs?: number;
  log: Logger;
  print?: (text: string) => void;
  core?: Partial<CoreOptions>;
  /** The only network the simulated radios can join; without it, any. */
  accessPoint?: { ssid: string; psk: string };
  /** Every device has a printer on its UART (sim-printer.ts). */
  printer?: PrinterOptions;
  /** The first device answers Improv through this, and starts without Wi-Fi settings, as one flashed without any. */
  improvSend?: (bytes: Uint8Array) => void;
  /** Devices take firmware updates (sim-ota.ts): partition size, where images go, which devices get corrupted bytes. */
  ota?: { capacity: number; dir?: string; corrupt?: (label: string) => boolean; releaseKeys?: string };
}

export interface FleetStats {
  devices: number;
  /** A device session is up (hello, ready or busy). */
  connected: number;
  /** Holds an id and a secret. */
  registered: number;
  /** Has applied a config from the broker in this run (its hello answered), once or more. */
  answered: number;
  busy: number;
  enrolling: number;
  states: Partial<Record<CoreState, number>>;
  connectAttempts: number;
  chaos: { wifiDrops: number; connectionBreaks: number };
  acks: { accepted: number; done: number; failed: number; rejected: number };
  /** Devices without an identity by why the broker refused them one (an expired or used-up token…). */
  problems: Record<string, number>;
  enrollReplies: number;
  /** Enrollment sessions that got no reply in time: no fleetbind broker is answering if none ever did. */
  enrollTimeouts: number;
}

const SESSION_STATES: readonly CoreState[] = ['hello', 'ready', 'busy'];

export function simFirmwareVersion(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return `sim-${pkg.version}`;
}

/** Locally administered MAC derived from the machine code, so a fleet keeps its MACs across runs. */
export function simMac(machine: string): string {
  return '02' + createHash('sha256').update(machine).digest('hex').slice(0, 10);
}

export function machineCode(prefix: string, n: number): string {
  return normaliseMachineCode(`${prefix}${String(n).padStart(4, '0')}`, 'machines-prefix');
}

export class SimFleet {
  readonly devices: SimDevice[] = [];
  private readonly states = new Map<CoreState, number>();
  private readonly chaosTimers = new Set<NodeJS.Timeout>();
  private readonly startTimers: NodeJS.Timeout[] = [];
  private readonly chaos = { wifiDrops: 0, connectionBreaks: 0 };
  private sessions = 0;
  /** Restarts after updates (and rollbacks). */
  restarts = 0;
  /** ms since epoch when every device first had a session at the same time. */
  allConnectedAt: number | null = null;
  /** ms since epoch when every device most recently came to have a session at the same time. */
  lastAllConnectedAt: number | null = null;
  /** Devices that applied a config from the broker in this run, and when the last of them first did. */
  private readonly answered = new Set<string>();
  allAnsweredAt: number | null = null;
  /** Devices that enrolled in this run, and when the latest of them did. */
  enrolled = 0;
  lastEnrolledAt: number | null = null;

  constructor(private readonly o: FleetOptions) {
    const fw = simFirmwareVersion();
    for (let n = 1; n <= o.devices; n++) {
      const machine = machineCode(o.machinesPrefix, n);
      const mac = simMac(machine);
      const improv = n === 1 && o.improvSend !== undefined;
      const initial: Partial<Record<PrefKey, string>> = improv
        ? { broker: o.broker, machine }
        : { ssid: o.accessPoint?.ssid ?? 'fleetbind-sim', psk: o.accessPoint?.psk ?? '', broker: o.broker, machine };
      if (o.enrollToken) initial.enroll = o.enrollToken;
      const prefs = o.stateDir ? new FilePrefs(join(o.stateDir, `${machine}.json`), initial) : new MemoryPrefs(initial);
      // The broker address and how to trust it always follow the command line, also for devices
      // restored from --state-dir.
      prefs.set('broker', o.broker);
      if (o.ca === undefined) {
        prefs.remove('ca');
        prefs.set('insecure', '1');
      } else {
        prefs.set('ca', o.ca);
        prefs.remove('insecure');
      }
      if (o.ota?.releaseKeys !== undefined) prefs.set('otakey', o.ota.releaseKeys);
      this.devices.push(this.makeDevice(this.devices.length, machine, mac, fw, prefs, improv, false));
    }
    this.states.set('boot', this.devices.length);
  }

  private makeDevice(index: number, machine: string, mac: string, fw: string, prefs: MemoryPrefs, improv: boolean, onTrial: boolean): SimDevice {
    const o = this.o;
    const u = o.ota;
    const ota =
      u === undefined
        ? undefined
        : new SimOta({
            capacity: u.capacity,
            ...(u.dir === undefined ? {} : { dir: u.dir }),
            label: machine,
            onTrial,
            corrupt: () => u.corrupt?.(machine) ?? false,
            restart: (rollback) => setImmediate(() => this.restart(index, rollback)),
          });
    return new SimDevice({
      label: machine,
      mac,
      fw,
      prefs,
      log: o.log.child({ device: machine }),
      ...(o.pngDir ? { pngDir: o.pngDir } : {}),
      ...(o.print ? { print: o.print } : {}),
      ...(o.core ? { core: o.core } : {}),
      associateMs: () => 20 + Math.random() * 80,
      ...(o.accessPoint ? { accessPoint: o.accessPoint } : {}),
      ...(improv ? { improvSend: o.improvSend! } : {}),
      ...(o.printer ? { printer: o.printer } : {}),
      ...(ota ? { ota } : {}),
      onState: (d, from, to) => this.onState(d, from, to),
      onConfig: (d) => this.onConfig(d),
    });
  }

  /**
   * The device restarts after an update: the same preferences boot again, into the version the
   * core recorded as pending (or, after a rollback, the one it came from).
   */
  private restart(index: number, rollback: boolean): void {
    const old = this.devices[index];
    if (old === undefined) return;
    old.stop();
    this.onState(old, old.state, 'boot');
    const pending = readPending(old.prefs);
    const fw = pending === null ? old.fw : rollback ? pending.from : pending.version;
    const next = this.makeDevice(index, old.label, old.mac, fw, old.prefs, false, !rollback && pending !== null);
    this.devices[index] = next;
    this.restarts++;
    next.start();
  }

  /** Devices that have neither credentials nor a token would halt at once; name them. */
  unprovisioned(): string[] {
    return this.devices.filter((d) => !d.registered && !d.prefs.get('enroll')).map((d) => d.label);
  }

  start(): void {
    const ramp = this.o.rampMs ?? 0;
    this.devices.forEach((d, i) => {
      const at = this.devices.length > 1 ? (ramp * i) / (this.devices.length - 1) : 0;
      this.startTimers.push(
        setTimeout(() => {
          d.start();
          if (this.o.chaosMeanMs !== undefined) this.scheduleChaos(d, this.o.chaosMeanMs);
        }, at),
      );
    });
  }

  stop(): void {
    for (const t of this.startTimers) clearTimeout(t);
    for (const t of this.chaosTimers) clearTimeout(t);
    this.chaosTimers.clear();
    for (const d of this.devices) d.stop();
  }

  /** Resolves once every device's preferences are on disk (with a state dir), so another fleet may load them. */
  async saved(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.prefs.saved()));
  }

  stats(): FleetStats {
    let registered = 0;
    let attempts = 0;
    let enrollReplies = 0;
    let enrollTimeouts = 0;
    const problems: Record<string, number> = {};
    const acks = { accepted: 0, done: 0, failed: 0, rejected: 0 };
    for (const d of this.devices) {
      if (d.registered) registered++;
      else if (d.problem !== null) problems[d.problem] = (problems[d.problem] ?? 0) + 1;
      enrollReplies += d.enrollReplies;
      enrollTimeouts += d.enrollTimeouts;
      attempts += d.mqtt.attemptCount;
      acks.accepted += d.acks.accepted;
      acks.done += d.acks.done;
      acks.failed += d.acks.failed;
      acks.rejected += d.acks.rejected;
    }
    const states = Object.fromEntries([...this.states].filter(([, n]) => n > 0)) as Partial<Record<CoreState, number>>;
    return {
      devices: this.devices.length,
      connected: this.sessions,
      registered,
      answered: this.answered.size,
      busy: this.states.get('busy') ?? 0,
      enrolling: this.states.get('enroll') ?? 0,
      states,
      connectAttempts: attempts,
      chaos: { ...this.chaos },
      acks,
      problems,
      enrollReplies,
      enrollTimeouts,
    };
  }

  /** Resolves with the stats once `done` holds; rejects after timeoutMs naming what was awaited. */
  waitFor(done: (s: FleetStats) => boolean, timeoutMs: number, what: string): Promise<FleetStats> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = (): void => {
        const s = this.stats();
        if (done(s)) return resolve(s);
        if (Date.now() - started > timeoutMs) return reject(new Error(`fleet: ${what} did not happen within ${timeoutMs} ms; now ${JSON.stringify(s)}`));
        setTimeout(check, 50);
      };
      check();
    });
  }

  private onState(d: SimDevice, from: CoreState, to: CoreState): void {
    if (from === 'enroll' && d.registered) {
      this.enrolled++;
      this.lastEnrolledAt = Date.now();
    }
    this.states.set(from, (this.states.get(from) ?? 1) - 1);
    this.states.set(to, (this.states.get(to) ?? 0) + 1);
    this.sessions += Number(SESSION_STATES.includes(to)) - Number(SESSION_STATES.includes(from));
    if (this.sessions === this.devices.length) {
      this.lastAllConnectedAt = Date.now();
      this.allConnectedAt ??= this.lastAllConnectedAt;
    }
  }

  private onConfig(d: SimDevice): void {
    if (this.answered.has(d.label)) return;
    this.answered.add(d.label);
    if (this.answered.size === this.devices.length) this.allAnsweredAt = Date.now();
  }

  private scheduleChaos(d: SimDevice, meanMs: number): void {
    const t = setTimeout(
      () => {
        this.chaosTimers.delete(t);
        if (Math.random() < 0.5) {
          if (d.wifi.drop()) this.chaos.wifiDrops++;
        } else if (d.mqtt.breakConnection()) {
          this.chaos.connectionBreaks++;
        }
        this.scheduleChaos(d, meanMs);
      },
      meanMs * (0.5 + Math.random()),
    );
    this.chaosTimers.add(t);
  }
}
