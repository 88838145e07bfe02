// The simulator's live progress line and its end-of-run summary (also used by bench/fleet).
import type { FleetStats } from './fleet';

const n = (x: number): string => x.toLocaleString('en-US');

export function progressLine(s: FleetStats, elapsedMs: number): string {
  const chaos = s.chaos.wifiDrops + s.chaos.connectionBreaks;
  return (
    `[${(elapsedMs / 1000).toFixed(0).padStart(4)} s] connected ${n(s.connected)}/${n(s.devices)}  answered ${n(s.answered)}  registered ${n(s.registered)}  ` +
    `busy ${n(s.busy)}  enrolling ${n(s.enrolling)}  attempts ${n(s.connectAttempts)}  jobs done ${n(s.acks.done)} failed ${n(s.acks.failed)}` +
    (chaos > 0 ? `  chaos ${n(chaos)}` : '')
  );
}

export interface RunTimes {
  elapsedMs: number;
  /** When every device was first connected at once, ms after start. */
  allReadyMs: number | null;
}

export function summary(s: FleetStats, t: RunTimes): string {
  const states = Object.entries(s.states)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  return [
    `simulated ${n(s.devices)} devices for ${(t.elapsedMs / 1000).toFixed(1)} s`,
    `  registered     ${n(s.registered)}/${n(s.devices)}`,
    `  connected      ${n(s.connected)}/${n(s.devices)} at the end (${states})`,
    `  all ready      ${t.allReadyMs === null ? 'never' : `after ${(t.allReadyMs / 1000).toFixed(1)} s`}`,
    `  MQTT attempts  ${n(s.connectAttempts)}`,
    `  jobs           accepted ${n(s.acks.accepted)}, done ${n(s.acks.done)}, failed ${n(s.acks.failed)}, rejected ${n(s.acks.rejected)}`,
    `  chaos          ${n(s.chaos.wifiDrops)} Wi-Fi drops, ${n(s.chaos.connectionBreaks)} broken connections`,
    ...Object.entries(s.problems).map(([why, count]) => `  refused        ${n(count)} device${count === 1 ? '' : 's'}: ${why}`),
  ].join('\n');
}

/**
 * Why the run cannot get anywhere, or null while it can: nobody answers enrollment (the address is
 * some other MQTT broker), or the broker refused every device an identity.
 */
export function deadEnd(s: FleetStats, broker: string, enrollReplyTimeoutMs: number): string | null {
  if (s.enrollTimeouts > 0 && s.enrollReplies === 0 && s.registered === 0) {
    return (
      `no fleetbind broker answered at ${broker}: devices connected and asked to enroll, and no enrollment reply came within ${enrollReplyTimeoutMs / 1000} s. ` +
      'Something else listens there (Mosquitto, or another MQTT broker); start fleetbind with npm start and pass its MQTT address with --broker.'
    );
  }
  const refused = Object.values(s.problems).reduce((a, b) => a + b, 0);
  if (s.registered === 0 && refused === s.devices) return `the broker refused every device an identity: ${Object.keys(s.problems).join('; ')}`;
  return null;
}
