// Job metrics, registered on the broker's Prometheus registry.
import { Counter, Histogram, type Registry, Summary } from 'prom-client';
import type { JobState } from '../../protocol/jobs';

export class JobMetrics {
  readonly queueDepth: Summary;
  readonly finished: Counter<'state'>;
  readonly submitted: Counter<'outcome'>;
  readonly dispatchLatency: Histogram;
  readonly ackRetries: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.queueDepth = new Summary({
      name: 'fleetbind_job_queue_depth',
      help: 'Jobs waiting in a device queue, observed on every change of that queue',
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 600,
      ageBuckets: 5,
      registers,
    });
    this.finished = new Counter({ name: 'fleetbind_jobs_finished_total', help: 'Jobs by final state', labelNames: ['state'], registers });
    this.submitted = new Counter({
      name: 'fleetbind_jobs_submitted_total',
      help: 'Submits by outcome (queued, repeat, or the refusal code)',
      labelNames: ['outcome'],
      registers,
    });
    this.dispatchLatency = new Histogram({
      name: 'fleetbind_job_dispatch_latency_seconds',
      help: 'From a job leaving its queue (first cmd) to the device accepting it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.ackRetries = new Counter({ name: 'fleetbind_job_ack_retries_total', help: 'cmds resent because the device did not acknowledge in time', registers });
  }

  final(state: JobState): void {
    this.finished.inc({ state });
  }
}
