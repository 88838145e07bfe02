// The app's MQTT-over-WebSocket connection, with the signed-in person's own credentials, so the
// broker's topic ACLs apply as to any client. It reconnects by itself; each (re)connect
// subscribes the wanted topics again and tells the owner, which then catches up.
import mqtt, { type MqttClient } from 'mqtt';
import type { WireError } from '../../../protocol/errors';
import type { Response } from '../../../protocol/messages';
import { ApiError } from './api';
import { Observable } from './observable';
import type { Session } from './session';

export type LinkState = 'connecting' | 'online' | 'reconnecting' | 'closed';

export interface LinkHandlers {
  message(topic: string, json: unknown): void;
  /** After every successful connect, with subscriptions already requested. */
  connected(first: boolean): void;
  /** The broker refused the credentials (session expired or revoked). */
  refused(): void;
}

const REQUEST_TIMEOUT_MS = 10_000;

export class Link {
  readonly state = new Observable<LinkState>('connecting');
  private client: MqttClient | null = null;
  private wanted = new Set<string>();
  private pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void; timer: ReturnType<typeof setTimeout> }>();
  private seq = 0;
  private everConnected = false;

  constructor(
    private readonly session: Session,
    private readonly reqTopic: string,
    private readonly resTopic: string,
    private readonly handlers: LinkHandlers,
  ) {
    this.wanted.add(resTopic);
  }

  start(): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const rand = Math.random().toString(36).slice(2, 10);
    const client = mqtt.connect(`${scheme}://${location.host}/mqtt`, {
      clientId: `${this.session.kind}:${this.session.id}:web-${rand}`,
      username: this.session.username,
      password: this.session.token,
      protocolVersion: 4,
      clean: true,
      keepalive: 15,
      connectTimeout: 5000,
      reconnectPeriod: 1000,
      resubscribe: false,
      queueQoSZero: false,
    });
    this.client = client;
    client.on('connect', () => {
      this.state.set('online');
      const first = !this.everConnected;
      this.everConnected = true;
      if (this.wanted.size > 0) client.subscribe([...this.wanted], { qos: 0 });
      this.handlers.connected(first);
    });
    client.on('reconnect', () => this.state.set(this.everConnected ? 'reconnecting' : 'connecting'));
    client.on('close', () => {
      if (this.state.get() === 'online') this.state.set('reconnecting');
      this.failPending('the connection to the server dropped; try again when it is back');
    });
    client.on('error', (err) => {
      const code = (err as Error & { code?: number }).code;
      // CONNACK 4 (bad username or password) and 5 (not authorised): the session is no good.
      if (code === 4 || code === 5) this.handlers.refused();
      else console.warn('mqtt', err.message);
    });
    client.on('message', (topic, payload) => {
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        console.warn(`ignoring a message on ${topic} that is not JSON`);
        return;
      }
      // An answer carries its request's id; anything else on the res topic is an event for the
      // handlers (e.g. {event: "transfer.decided"}, docs/architecture.md, Transfer requests).
      const answer = topic === this.resTopic && json !== null && typeof json === 'object' && 'id' in json;
      if (answer) this.settle(json as Response);
      else this.handlers.message(topic, json);
    });
  }

  /** Subscribes now if connected, and again after every reconnect. */
  want(topics: string[]): void {
    const add = topics.filter((t) => !this.wanted.has(t));
    for (const t of add) this.wanted.add(t);
    if (add.length > 0 && this.client?.connected) this.client.subscribe(add, { qos: 0 });
  }

  drop(topics: string[]): void {
    const gone = topics.filter((t) => this.wanted.delete(t));
    if (gone.length > 0 && this.client?.connected) this.client.unsubscribe(gone);
  }

  /** One request on the req topic; resolves with its result or rejects with its error. */
  request<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    const client = this.client;
    if (!client?.connected) {
      return Promise.reject(
        new ApiError(0, { code: 'UNAVAILABLE', message: 'not connected to the server right now; wait until it says online and try again' }),
      );
    }
    const id = `w${++this.seq}-${Date.now().toString(36)}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError(0, { code: 'UNAVAILABLE', message: 'the server did not answer in time; check the connection and try again' }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      client.publish(this.reqTopic, JSON.stringify({ ...body, id, op }), { qos: 0 }, (err) => {
        if (err) this.settle({ id, ok: false, error: { code: 'UNAVAILABLE', message: `sending failed: ${err.message}` } });
      });
    });
  }

  end(): void {
    this.state.set('closed');
    this.failPending('signed out');
    this.client?.end(true);
    this.client = null;
  }

  private settle(res: Response): void {
    if (typeof res.id !== 'string') return;
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    clearTimeout(p.timer);
    if (res.ok) p.resolve(res.result);
    else p.reject(new ApiError(0, res.error as WireError));
  }

  private failPending(message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ApiError(0, { code: 'UNAVAILABLE', message }));
      this.pending.delete(id);
    }
  }
}
