// Prometheus metrics, one registry per broker instance. Per-message counts are plain numbers
// read at scrape time, so the hot path pays an increment, not a label lookup.
import { Counter, Gauge, Registry } from 'prom-client';
import type { HashQueue } from './auth/hash-queue';

export type ConnectionKind = 'device' | 'enroll' | 'agent' | 'admin';

export class Metrics {
  readonly registry = new Registry();
  messagesIn = 0;
  messagesOut = 0;
  readonly connections: Record<ConnectionKind, number> = { device: 0, enroll: 0, agent: 0, admin: 0 };
  readonly aclDenials: Counter<'rule'>;
  readonly claims: Counter<'outcome'>;
  readonly authFailures: Counter<'kind' | 'reason'>;
  readonly requests: Counter<'op' | 'outcome'>;
  readonly tokenRefusals: Counter<'via' | 'reason'>;
  readonly webhookAttempts: Counter<'outcome'>;
  readonly plaintextDeviceConnections: Counter<'kind'>;

  constructor(hashes: HashQueue) {
    const registry = this.registry;
    const self = this;
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
    this.aclDenials = new Counter({ name: 'fleetbind_acl_denials_total', help: 'Refused subscribes, publishes and forwards by rule', labelNames: ['rule'], registers: [registry] });
    this.claims = new Counter({ name: 'fleetbind_claims_total', help: 'Claim attempts by outcome', labelNames: ['outcome'], registers: [registry] });
    this.authFailures = new Counter({ name: 'fleetbind_auth_failures_total', help: 'Refused logins and MQTT connects', labelNames: ['kind', 'reason'], registers: [registry] });
    this.tokenRefusals = new Counter({ name: 'fleetbind_token_refusals_total', help: 'Identity-provider tokens refused, by where (rest, mqtt, mqtt-live) and reason', labelNames: ['via', 'reason'], registers: [registry] });
    this.webhookAttempts = new Counter({ name: 'fleetbind_webhook_attempts_total', help: 'Webhook delivery attempts by outcome (delivered, failed)', labelNames: ['outcome'], registers: [registry] });
    this.plaintextDeviceConnections = new Counter({
      name: 'fleetbind_plaintext_device_connections_total',
      help: 'Device and enrollment connections accepted without TLS (their secret or token crossed in clear)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.requests = new Counter({ name: 'fleetbind_requests_total', help: 'Agent and admin requests over MQTT by op and outcome', labelNames: ['op', 'outcome'], registers: [registry] });
  }
}
