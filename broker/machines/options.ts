// Machine state settings (docs/architecture.md, Machine state): alert thresholds, history sampling
// and retention, and how fast one device may report.
export interface MachineOptions {
  /** A consumable under this level (percent) is low, unless the device's `alerts.inkLowPercent` says otherwise. */
  lowPercent: number;
  /** A low alert clears only once the level is this many points above the threshold again. */
  hysteresisPercent: number;
  /** A device offline for longer than this raises an `offline` alert. */
  offlineAlertMs: number;
  /** Failed share (0-1) of a device's last `failureWindow` ended jobs that raises `job-failures`; it clears under half of it. */
  failureRate: number;
  failureWindow: number;
  /** At most one history sample per device this often (consumables and counters). */
  historySampleMs: number;
  /** Samples older than this are pruned. */
  historyRetentionMs: number;
  /** State reports per second one device may send, sustained, and at once; more are refused (`rate`). */
  stateRate: number;
  stateBurst: number;
  /** Export per-machine series (a `device` label) too; off, the machine metrics have bounded labels. */
  deviceMetrics: boolean;
}

export const MACHINE_DEFAULTS: MachineOptions = {
  lowPercent: 15,
  hysteresisPercent: 5,
  offlineAlertMs: 10 * 60_000,
  failureRate: 0.5,
  failureWindow: 10,
  historySampleMs: 60_000,
  historyRetentionMs: 30 * 24 * 3600_000,
  stateRate: 2,
  stateBurst: 10,
  deviceMetrics: false,
};
