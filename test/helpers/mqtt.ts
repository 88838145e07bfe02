// mqtt.js helpers for tests: connect with a clear failure, wait for matching messages, and
// make request/response calls on the agent and admin request topics.
import { connect as tcpConnect } from 'node:net';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';

/** `localAddress` (mqtt:// only) connects from another loopback address, such as 127.0.0.2. */
export function connect(url: string, opts: IClientOptions & { localAddress?: string }): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const { localAddress, ...rest } = opts;
    const options: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...rest };
    const u = new URL(url);
    const client =
      localAddress === undefined
        ? mqtt.connect(url, options)
        : new MqttClient(() => tcpConnect({ host: u.hostname, port: Number(u.port), localAddress }), options);
    const fail = (err: Error): void => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      client.removeListener('error', fail);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error(`connection to ${url} closed before CONNACK`)));
  });
}

/** Resolves with the connack error (e.g. "Connection refused: Bad username or password"), or rejects if it connected. */
export function connectRefused(url: string, opts: IClientOptions & { localAddress?: string }): Promise<Error> {
  return connect(url, opts).then(
    (c) => {
      c.end(true);
      throw new Error('connection was accepted');
    },
    (err: Error) => err,
  );
}

/** Resolves with the SUBACK return codes (128 = refused); mqtt.js reports a refusal as an error. */
export function subscribe(client: MqttClient, topic: string | string[]): Promise<number[]> {
  return new Promise((resolve, reject) =>
    client.subscribe(topic, { qos: 0 }, (err, granted, packet) => {
      if (packet?.granted) return resolve(packet.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)));
      if (err) return reject(err);
      resolve((granted ?? []).map((g) => g.qos));
    }),
  );
}

export function publish(client: MqttClient, topic: string, body: unknown, opts: { retain?: boolean } = {}): Promise<void> {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos: 0, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve())));
}

export interface Received {
  topic: string;
  text: string;
  json: unknown;
  retain: boolean;
}

/** Records every message a client receives, for later assertions. */
export function recorder(client: MqttClient): Received[] {
  const log: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    const text = payload.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    log.push({ topic, text, json, retain: packet.retain });
  });
  return log;
}

export function waitFor<T = unknown>(
  client: MqttClient,
  match: (topic: string, json: any) => boolean,
  timeoutMs = 5000,
  what = 'message',
): Promise<{ topic: string; json: T }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('message', onMessage);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    function onMessage(topic: string, payload: Buffer): void {
      let json: unknown;
      try {
        json = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      if (!match(topic, json)) return;
      clearTimeout(timer);
      client.removeListener('message', onMessage);
      resolve({ topic, json: json as T });
    }
    client.on('message', onMessage);
  });
}

export function waitClosed(client: MqttClient, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) return resolve();
    const timer = setTimeout(() => reject(new Error('client was not disconnected')), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function end(...clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => (c ? new Promise<void>((r) => c.end(true, {}, () => r())) : Promise.resolve())));
}
