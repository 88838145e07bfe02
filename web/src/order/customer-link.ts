// The customer's MQTT-over-WebSocket connection (customer:<session>): it may subscribe only to
// its own orders' topics (docs/architecture.md, "Walk-up orders"). Reconnects by itself and
// subscribes again; the broker's retained message brings each open order's latest state (an
// ended order has none: the page's periodic refresh brings its ending).
import mqtt, { type MqttClient } from 'mqtt';
import type { OrderUpdate } from '../../../protocol/orders';

export class CustomerLink {
  private client: MqttClient | null = null;
  private readonly wanted = new Set<string>();

  constructor(
    private readonly session: string,
    private readonly token: string,
    private readonly onUpdate: (u: OrderUpdate) => void,
  ) {}

  start(): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const client = mqtt.connect(`${scheme}://${location.host}/mqtt`, {
      clientId: `customer:${this.session}:web-${Math.random().toString(36).slice(2, 10)}`,
      username: `customer:${this.session}`,
      password: this.token,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 2000,
      resubscribe: false,
    });
    this.client = client;
    client.on('connect', () => {
      if (this.wanted.size > 0) client.subscribe([...this.wanted], { qos: 0 });
    });
    client.on('message', (_topic, payload) => {
      // The broker clearing an ended order's retained message: nothing to show.
      if (payload.length === 0) return;
      try {
        this.onUpdate(JSON.parse(payload.toString()) as OrderUpdate);
      } catch {
        // Not JSON: nothing the page could show.
      }
    });
  }

  follow(order: string): void {
    const topic = `fb/v1/o/${order}`;
    if (this.wanted.has(topic)) return;
    this.wanted.add(topic);
    if (this.client?.connected) this.client.subscribe(topic, { qos: 0 });
  }

  stop(): void {
    this.client?.end(true);
    this.client = null;
  }
}
