// Pool metrics (docs/architecture.md, Locations and pools). Locations are operator-made, so their
// label is bounded: the first MAX_LOCATION_LABELS locations seen get their own, the rest share
// "other", and a scrape never grows without limit.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const MAX_LOCATION_LABELS = 50;

export class PoolMetrics {
  readonly queueDepth: Gauge<'location'>;
  readonly waitSeconds: Histogram<'location'>;
  readonly leasesStarted: Counter<'location'>;
  readonly leasesEnded: Counter<'location' | 'reason'>;
  readonly noDevice: Counter<'location'>;
  private readonly labels = new Set<string>();

  constructor(registry: Registry) {
    this.queueDepth = new Gauge({
      name: 'fleetbind_pool_queue_depth',
      help: "Jobs waiting in a location's pool queue",
      labelNames: ['location'],
      registers: [registry],
    });
    this.waitSeconds = new Histogram({
      name: 'fleetbind_pool_wait_seconds',
      help: 'How long a job waited in its pool queue before a device took it',
      labelNames: ['location'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers: [registry],
    });
    this.leasesStarted = new Counter({ name: 'fleetbind_leases_started_total', help: 'Pool leases started', labelNames: ['location'], registers: [registry] });
    this.leasesEnded = new Counter({
      name: 'fleetbind_leases_ended_total',
      help: 'Pool leases ended, by reason (job-ended, orphaned)',
      labelNames: ['location', 'reason'],
      registers: [registry],
    });
    this.noDevice = new Counter({
      name: 'fleetbind_pool_no_device_total',
      help: 'Pool submits answered NO_DEVICE_AVAILABLE',
      labelNames: ['location'],
      registers: [registry],
    });
  }

  /** The location's label, or "other" once MAX_LOCATION_LABELS locations have their own. */
  location(id: string): string {
    if (this.labels.has(id)) return id;
    if (this.labels.size >= MAX_LOCATION_LABELS) return 'other';
    this.labels.add(id);
    return id;
  }
}
