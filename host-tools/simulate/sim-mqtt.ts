// Platform MQTT for a simulated device on mqtt.js: MQTT 3.1.1, QoS 0, clean session, no
// automatic reconnect (the core reconnects), like Moddable's client. It records when each
// connection attempt started and ended, so tests and the fleet display can see the backoff.
import { isIP } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import type { Mqtt, MqttCloseInfo, MqttConnectOptions, MqttHandlers } from '../../firmware/core/platform';

/** How many attempts each device remembers; older ones are dropped. */
export const ATTEMPT_HISTORY = 64;

export interface Attempt {
  /** ms since epoch when connect() was called. */
  at: number;
  username: string;
  /** When the CONNACK arrived, if it did. */
  readyAt?: number;
  /** When the connection ended, or the core closed it. */
  closedAt?: number;
  /** Why it ended; absent when the core closed it. */
  close?: MqttCloseInfo;
}

/** Node's TLS takes CA certificates as PEM; the core hands over DER. */
function pemOf(der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export class NodeMqtt implements Mqtt {
  /** The latest ATTEMPT_HISTORY attempts. */
  readonly attempts: Attempt[] = [];
  /** All attempts ever made. */
  attemptCount = 0;
  private client: MqttClient | null = null;
  private current: Attempt | null = null;

  connect(options: MqttConnectOptions, handlers: MqttHandlers): void {
    this.close();
    const attempt: Attempt = { at: Date.now(), username: options.username };
    this.attemptCount++;
    this.attempts.push(attempt);
    if (this.attempts.length > ATTEMPT_HISTORY) this.attempts.shift();
    this.current = attempt;
    const client = mqtt.connect({
      host: options.host,
      port: options.port,
      protocol: options.secure ? 'mqtts' : 'mqtt',
      // Like the firmware's SecureSocket: trust only the provisioned CA, and check the server's name.
      ...(options.secure
        ? { ca: options.ca ? pemOf(options.ca) : [], rejectUnauthorized: true, ...(isIP(options.host) ? {} : { servername: options.host }) }
        : {}),
      protocolVersion: 4,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      keepalive: options.keepalive,
      clean: true,
      reconnectPeriod: 0,
      // The core owns the CONNACK deadline; this only has to be longer than the core's.
      connectTimeout: 120_000,
      ...(options.will
        ? { will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 0 as const, retain: options.will.retain } }
        : {}),
    });
    this.client = client;
    let refused: number | undefined;
    let reason: string | undefined;
    client.on('connect', () => {
      if (this.client !== client) return;
      attempt.readyAt = Date.now();
      handlers.onReady();
    });
    client.on('message', (topic, payload) => {
      if (this.client === client) handlers.onMessage(topic, payload.toString('utf8'));
    });
    client.on('error', (err: Error & { code?: unknown }) => {
      // A refused CONNECT carries its CONNACK return code as a number.
      if (typeof err.code === 'number') refused = err.code;
      reason ??= err.message;
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = null;
      const info: MqttCloseInfo = { reason: reason ?? 'connection closed' };
      if (refused !== undefined) info.refused = refused;
      attempt.closedAt = Date.now();
      attempt.close = info;
      handlers.onClose(info);
    });
  }

  publish(topic: string, payload: string, retain = false): void {
    if (this.client?.connected) this.client.publish(topic, payload, { qos: 0, retain });
  }

  subscribe(topic: string): void {
    if (this.client?.connected) this.client.subscribe(topic, { qos: 0 });
  }

  close(): void {
    const client = this.client;
    if (!client) return;
    this.client = null;
    if (this.current) this.current.closedAt = Date.now();
    // A DISCONNECT when there is a session, so the broker discards the will: this ending is deliberate.
    client.end(!client.connected);
  }

  /** Chaos: the TCP connection dies under the device, as when a NAT or access point drops it. */
  breakConnection(): boolean {
    if (!this.client) return false;
    this.client.stream.destroy();
    return true;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }
}
