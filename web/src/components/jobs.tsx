// How a job shows: its state, position, ETA countdown, progress and timeline.
import type { JSX } from 'preact';
import { JOB_STATES } from '../../../protocol/jobs';
import { type JobTrack, isOpen } from '../lib/agent-live';
import { useTick } from '../lib/observable';
import { STATE_WORDS } from '../../../protocol/job-words';
import { clock, duration, jobKindText, jobStatusText, jobSummary } from '../lib/words';

export function positionText(j: JobTrack): string {
  if (j.position === null) return '';
  if (j.position === 0) return 'On the machine now';
  if (j.position === 1) return 'Next in line';
  return `Number ${j.position} in line`;
}

export function Eta(props: { job: JobTrack }): JSX.Element | null {
  const now = useTick(1000);
  const j = props.job;
  if (!isOpen(j.state) || j.eta === null) return null;
  const left = j.eta - (now - j.etaAt);
  return <span data-testid="job-eta">{left > 1000 ? `about ${duration(left)} left` : 'finishing…'}</span>;
}

export function StateBadge(props: { job: JobTrack }): JSX.Element {
  return (
    <span class={`state state-${props.job.state}`} data-testid="job-state" data-state={props.job.state}>
      {jobStatusText(props.job)}
    </span>
  );
}

export function Progress(props: { job: JobTrack }): JSX.Element | null {
  const p = props.job.progress;
  if (p === null && props.job.state !== 'running') return null;
  const value = Math.round(p ?? 0);
  return (
    <div class="progress">
      <label for={`progress-${props.job.job}`}>Progress</label>
      <progress id={`progress-${props.job.job}`} max={100} value={value} data-testid="job-progress">
        {value} %
      </progress>
      <span aria-hidden="true">{value} %</span>
    </div>
  );
}

export function Timeline(props: { job: JobTrack }): JSX.Element {
  const steps = JOB_STATES.filter((s) => props.job.times[s] !== undefined).sort((a, b) => props.job.times[a]! - props.job.times[b]!);
  return (
    <ol class="timeline" aria-label="Timeline" data-testid="job-timeline">
      {steps.map((s) => (
        <li key={s} data-state={s}>
          <time dateTime={new Date(props.job.times[s]!).toISOString()}>{clock(props.job.times[s]!)}</time> {STATE_WORDS[s]}
        </li>
      ))}
    </ol>
  );
}

export function JobLine(props: { job: JobTrack }): JSX.Element {
  const j = props.job;
  return (
    <span class="job-line">
      <strong>{jobKindText(j)}</strong> {jobSummary(j) !== '' && <span data-testid="job-summary">{jobSummary(j)}</span>} <StateBadge job={j} />{' '}
      {j.position !== null && <span>{positionText(j)}</span>}
      {isOpen(j.state) && j.eta !== null && <span aria-hidden="true">·</span>}
      <Eta job={j} />
    </span>
  );
}
