// What the machine behind a device is doing (docs/architecture.md, Machine state): the derived
// status, ink bars and open alerts, from the shadow and alert events the agent receives live.
import type { JSX } from 'preact';
import { type MachineStatus, lowThreshold, machineStatus } from '../../../protocol/machine-state';
import type { Status } from '../../../protocol/messages';
import type { AlertView, ShadowView } from '../../../protocol/rest';
import type { AgentState } from '../lib/agent-live';

const STATUS_WORDS: Record<MachineStatus, string> = {
  offline: 'Offline',
  reconnecting: 'Reconnecting',
  idle: 'Ready',
  busy: 'Printing',
  error: 'Needs help',
  maintenance: 'Maintenance',
  attention: 'Low on supplies',
};

const INKS = [
  ['ink.c', 'Cyan'],
  ['ink.m', 'Magenta'],
  ['ink.y', 'Yellow'],
  ['ink.k', 'Black'],
] as const;

/** Whether one of the device's jobs is on the machine now, from the agent's live queue snapshot. */
export function jobOnMachine(st: Pick<AgentState, 'queues' | 'jobs'>, device: string): boolean {
  return (st.queues[device] ?? []).some((id) => st.jobs[id]?.state === 'dispatched' || st.jobs[id]?.state === 'running');
}

export function MachineState(props: {
  presence: Status | undefined;
  shadow: ShadowView | undefined;
  alerts: AlertView[] | undefined;
  jobRunning: boolean;
}): JSX.Element | null {
  const { shadow } = props;
  const reported = shadow?.reported ?? null;
  // A job of the queue on the machine counts as busy even when the machine reports no state, as
  // the broker's machine list has it (protocol/machine-state.ts machineStatus).
  // The broker's threshold comes with the shadow; with no shadow there is nothing to call low.
  const fleetLow = shadow?.lowPercent ?? 0;
  const status = machineStatus(props.presence?.state ?? 'offline', reported, fleetLow, props.jobRunning);
  const low = reported ? lowThreshold(reported, fleetLow) : fleetLow;
  const consumables = reported?.consumables ?? {};
  const inks = INKS.filter(([name]) => consumables[name] !== undefined);
  const alerts = props.alerts ?? [];
  return (
    <div class="machine-state" data-testid="machine-state">
      <p class={`machine-status ms-${status}`} data-testid="machine-status" data-status={status}>
        {STATUS_WORDS[status]}
        {reported?.machine?.error ? ` – ${reported.machine.error.message}` : ''}
      </p>
      {inks.length > 0 && (
        <ul class="ink-bars" aria-label="Ink levels">
          {inks.map(([name, label]) => {
            const level = consumables[name]!.level;
            return (
              <li key={name} class={`ink ink-${name.slice(4)}${level < low ? ' low' : ''}`} data-testid="ink" data-ink={name} data-level={level}>
                <span class="ink-label">{label}</span>
                <span class="ink-track" role="meter" aria-label={`${label} ink`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={level}>
                  <span class="ink-fill" style={{ width: `${Math.max(0, Math.min(100, level))}%` }} />
                </span>
                <span class="ink-value">{Math.round(level)}%</span>
              </li>
            );
          })}
        </ul>
      )}
      {alerts.length > 0 && (
        <ul class="machine-alerts" aria-label="Alerts">
          {alerts.map((a) => (
            <li key={a.id} role="alert" class="alert" data-testid="machine-alert" data-kind={a.kind}>
              {a.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
