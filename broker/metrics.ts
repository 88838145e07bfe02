// Prometheus metrics, one registry per broker instance. Per-message counts are plain numbers
// read at scrape time, so the hot path pays an increment, not a label lookup.
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { sharedRead } from './shared-read';
import type { HashQueue } from './auth/hash-queue';

const KNOWN_CONSUMABLES = new Set(['ink.c', 'ink.m', 'ink.y', 'ink.k', 'paper']);

export type ConnectionKind = 'device' | 'enroll' | 'agent' | 'admin' | 'customer';

/** The fleet as a scrape sees it: devices by presence state, and how many are registered and bound. */
export interface FleetCounts {
  byPresence: Record<string, number>;
  registered: number;
  bound: number;
}

export class Metrics {
  readonly registry = new Registry();
  messagesIn = 0;
  messagesOut = 0;
  readonly connections: Record<ConnectionKind, number> = { device: 0, enroll: 0, agent: 0, admin: 0, customer: 0 };
  readonly aclDenials: Counter<'rule'>;
  readonly claims: Counter<'outcome'>;
  readonly authFailures: Counter<'kind' | 'reason'>;
  /** MQTT CONNECTs being authenticated now (authenticate.ts sheds new ones when these back up). */
  readonly authenticating: Gauge;
  readonly requests: Counter<'op' | 'outcome'>;
  readonly guardRefusals: Counter<'reason'>;
  readonly heapCompactions: Counter;
  readonly rateLimited: Counter<'scope'>;
  readonly helloRefusals: Counter<'reason'>;
  readonly machineCodeRefusals: Counter<'via' | 'reason'>;
  readonly tokenRefusals: Counter<'via' | 'reason'>;
  readonly webhookAttempts: Counter<'outcome'>;
  readonly plaintextDeviceConnections: Counter<'kind'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly designProcessing: Summary;
  readonly stateReports: Counter;
  readonly shadowWrites: Counter;
  readonly stateRefusals: Counter<'reason'>;
  readonly alerts: Counter<'kind' | 'event'>;

  constructor(hashes: HashQueue, statements?: () => number) {
    const registry = this.registry;
    const self = this;
    if (statements) {
      new Counter({
        name: 'fleetbind_sql_statements_total',
        help: 'SQL statements run on the SQLite registry (the cost of a job or claim is mostly these)',
        registers: [registry],
        collect() {
          this.reset();
          this.inc(statements());
        },
      });
    }
    new Gauge({
      name: 'fleetbind_secret_hash_queue',
      help: 'Device secret hashes waiting for a thread',
      registers: [registry],
      collect() {
        this.set(hashes.depth);
      },
    });
    new Counter({
      name: 'fleetbind_secret_hashes_dropped_total',
      help: 'Queued device secret hashes dropped because their connection had gone',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(hashes.dropped);
      },
    });
    new Gauge({
      name: 'fleetbind_connections',
      help: 'Open MQTT connections by kind',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        for (const [kind, n] of Object.entries(self.connections)) this.set({ kind }, n);
      },
    });
    new Counter({
      name: 'fleetbind_messages_in_total',
      help: 'PUBLISH packets accepted from clients',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(self.messagesIn);
      },
    });
    new Counter({
      name: 'fleetbind_messages_out_total',
      help: 'Messages delivered to clients after the forward check',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(self.messagesOut);
      },
    });
    this.aclDenials = new Counter({
      name: 'fleetbind_acl_denials_total',
      help: 'Refused subscribes, publishes and forwards by rule',
      labelNames: ['rule'],
      registers: [registry],
    });
    this.claims = new Counter({ name: 'fleetbind_claims_total', help: 'Claim attempts by outcome', labelNames: ['outcome'], registers: [registry] });
    this.authenticating = new Gauge({ name: 'fleetbind_mqtt_authenticating', help: 'MQTT CONNECTs being authenticated now', registers: [registry] });
    this.authFailures = new Counter({
      name: 'fleetbind_auth_failures_total',
      help: 'Refused logins and MQTT connects',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    });
    this.tokenRefusals = new Counter({
      name: 'fleetbind_token_refusals_total',
      help: 'Identity-provider tokens refused, by where (rest, mqtt, mqtt-live) and reason',
      labelNames: ['via', 'reason'],
      registers: [registry],
    });
    this.webhookAttempts = new Counter({
      name: 'fleetbind_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.plaintextDeviceConnections = new Counter({
      name: 'fleetbind_plaintext_device_connections_total',
      help: 'Device and enrollment connections accepted without TLS (their secret or token crossed in clear)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.helloRefusals = new Counter({
      name: 'fleetbind_hello_refusals_total',
      help: 'Device hellos answered with an error on their config topic: invalid, or a refused machine code (machine-not-allowed, machine-taken, machine-differs)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.machineCodeRefusals = new Counter({
      name: 'fleetbind_machine_code_refusals_total',
      help: 'Machine codes announced by devices and refused, by where (enroll, hello) and why (not-allowed, taken, differs)',
      labelNames: ['via', 'reason'],
      registers: [registry],
    });
    this.rateLimited = new Counter({
      name: 'fleetbind_requests_rate_limited_total',
      help: 'Agent requests answered RATE_LIMITED, by the bucket that refused them (connection, agent)',
      labelNames: ['scope'],
      registers: [registry],
    });
    this.heapCompactions = new Counter({
      name: 'fleetbind_heap_compactions_total',
      help: 'Heap compactions after a connect storm ended (--storm-compaction)',
      registers: [registry],
    });
    this.guardRefusals = new Counter({
      name: 'fleetbind_connection_guard_refusals_total',
      help: 'Connections closed before Aedes buffered them: oversize packets, too many unauthenticated per address',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.requests = new Counter({
      name: 'fleetbind_requests_total',
      help: 'Agent and admin requests over MQTT by op and outcome',
      labelNames: ['op', 'outcome'],
      registers: [registry],
    });
    // Routes are the registered patterns (/api/devices/:id), so the label set stays small.
    this.httpRequests = new Counter({
      name: 'fleetbind_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.httpDuration = new Histogram({
      name: 'fleetbind_http_request_duration_seconds',
      help: 'HTTP response time by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.stateReports = new Counter({
      name: 'fleetbind_state_reports_total',
      help: 'Machine state reports merged into a stored shadow (ones that changed something)',
      registers: [registry],
    });
    this.shadowWrites = new Counter({
      name: 'fleetbind_shadow_writes_total',
      help: 'Shadow rows written; reports that arrive while the previous write is pending share one',
      registers: [registry],
    });
    this.stateRefusals = new Counter({
      name: 'fleetbind_state_refusals_total',
      help: 'Machine state reports refused, by reason (json, schema, rate); oversize ones count as acl payload-size',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.designProcessing = new Summary({
      name: 'fleetbind_design_processing_seconds',
      help: 'Walk-up design uploads made print-ready (sniff, decode, fit, re-encode, thumbnail with sharp), refused ones included',
      percentiles: [0.5, 0.9, 0.99],
      registers: [registry],
    });
    this.alerts = new Counter({
      name: 'fleetbind_alerts_total',
      help: 'Machine alerts by kind and event (raised, cleared)',
      labelNames: ['kind', 'event'],
      registers: [registry],
    });
    collectDefaultMetrics({ register: registry });
  }

  /**
   * Machines by derived status and a histogram of consumable levels, counted at each scrape. The
   * labels are closed lists (statuses, and consumable names outside a known few become `other`),
   * so a fleet of any size has a bounded number of series.
   */
  watchMachines(
    count: () => Promise<{
      byStatus: Record<string, number>;
      levels: Array<{ device: string; name: string; level: number }>;
      statuses: Array<{ device: string; status: string }>;
    }>,
    perDevice: boolean,
  ): void {
    const registry = this.registry;
    const counts = sharedRead(count);
    new Gauge({
      name: 'fleetbind_machines',
      help: 'Machines by derived status (offline, reconnecting, idle, busy, error, maintenance, attention)',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [status, n] of Object.entries((await counts()).byStatus)) this.set({ status }, n);
      },
    });
    new Histogram({
      name: 'fleetbind_consumable_level_percent',
      help: 'Current consumable levels across the fleet (ink.c, ink.m, ink.y, ink.k, paper, other), rebuilt at each scrape',
      labelNames: ['consumable'],
      buckets: [5, 10, 15, 25, 50, 75, 100],
      registers: [registry],
      async collect() {
        this.reset();
        for (const l of (await counts()).levels) this.observe({ consumable: KNOWN_CONSUMABLES.has(l.name) ? l.name : 'other' }, l.level);
      },
    });
    if (!perDevice) return;
    new Gauge({
      name: 'fleetbind_machine_status',
      help: "1 for each machine's derived status (--machines-device-metrics: one series per machine)",
      labelNames: ['device', 'status'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const m of (await counts()).statuses) this.set({ device: m.device, status: m.status }, 1);
      },
    });
    new Gauge({
      name: 'fleetbind_machine_consumable_level_percent',
      help: "Each machine's consumable levels (--machines-device-metrics: one series per machine and consumable)",
      labelNames: ['device', 'consumable'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const l of (await counts()).levels) this.set({ device: l.device, consumable: l.name }, l.level);
      },
    });
  }

  /** Counts the fleet at each scrape (a registry query), rather than keeping counters in step with every change. */
  watchFleet(count: () => Promise<FleetCounts>): void {
    const registry = this.registry;
    // The three gauges share one count per scrape.
    const counts = sharedRead(count);
    new Gauge({
      name: 'fleetbind_devices',
      help: 'Registered devices by presence state (online, reconnecting, offline, ...)',
      labelNames: ['presence'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [presence, n] of Object.entries((await counts()).byPresence)) this.set({ presence }, n);
      },
    });
    new Gauge({
      name: 'fleetbind_devices_registered',
      help: 'Devices in the registry',
      registers: [registry],
      async collect() {
        this.set((await counts()).registered);
      },
    });
    new Gauge({
      name: 'fleetbind_devices_bound',
      help: 'Devices bound to an agent',
      registers: [registry],
      async collect() {
        this.set((await counts()).bound);
      },
    });
  }
}
