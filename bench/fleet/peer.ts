// bench:fleet's bursts: N plain MQTT clients sending the packets a device sends when its session
// starts (connect with a retained will, subscribe to its config topic and then its cmd topic, one
// SUBSCRIBE each as the firmware's MQTT client does, publish a retained status and a hello), all
// at once. Against bare Aedes and Mosquitto they are the floor fleetbind is compared with; against
// fleetbind itself they log in as the registered devices and count once their hello is answered
// with a config, so that each broker's CPU window holds all the work the burst gave it, and every
// broker gets its load from the same cheap generator.
import mqtt, { type MqttClient } from 'mqtt';
import { cpuMsOf, monoUs, rssOf } from '../lib/proc';

export interface BurstResult {
  ms: number | null;
  connected: number;
  /** The broker's resident memory before the burst and with every client connected. */
  idleRssBytes: number | null;
  rssBytes: number | null;
  /** The broker process's CPU time (user + system) from the first connect until every client was done. */
  cpuMs: number | null;
  /** That window on the monotonic clock (µs), which a V8 profile's timestamps use. */
  window: [number, number];
}

/** Who the i-th client of a burst is and where its device topics live. */
export interface BurstClient {
  clientId: string;
  topics: Record<'config' | 'cmd' | 'status' | 'hello', string>;
  hello: string;
  username?: string;
  password?: string;
}

/** A peer broker's clients: anonymous, under a prefix of this run, so retained statuses can be cleared after. */
export function peerClients(n: number): BurstClient[] {
  const run = Math.random().toString(36).slice(2, 8);
  return Array.from({ length: n }, (_, i) => {
    const base = `peer-${run}/${i}`;
    const topics = { config: `${base}/config`, cmd: `${base}/cmd`, status: `${base}/status`, hello: `${base}/hello` };
    return { clientId: `peer-${run}-${i}`, topics, hello: '{"fw":"peer","model":"peer"}' };
  });
}

export interface BurstOptions {
  /** A client is done once a message reaches its config topic (fleetbind's answer to the hello), not at its SUBACKs. */
  answered: boolean;
  /** Clear the retained statuses afterwards (a peer keeping them on disk is left as it was found). */
  clearRetained: boolean;
}

/** Connects every client at once; resolves when all are done, or at the deadline. */
export async function burst(
  url: string,
  clients: BurstClient[],
  o: BurstOptions,
  deadlineMs: number,
  pid: number | null,
  progress: (done: number, elapsedMs: number) => void,
): Promise<BurstResult> {
  const n = clients.length;
  const open: MqttClient[] = [];
  let done = 0;
  const started = Date.now();
  const idleRssBytes = pid === null ? null : rssOf(pid);
  let rssBytes: number | null = null;
  const cpu0 = pid === null ? null : cpuMsOf(pid);
  const mono0 = monoUs();
  try {
    const all = new Promise<void>((resolve) => {
      const finished = (): void => {
        if (++done === n) resolve();
      };
      for (const c of clients) {
        const client = mqtt.connect(url, {
          clientId: c.clientId,
          ...(c.username === undefined ? {} : { username: c.username, password: c.password }),
          protocolVersion: 4,
          keepalive: 30,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: deadlineMs,
          will: { topic: c.topics.status, payload: Buffer.from('{"state":"offline"}'), qos: 0, retain: true },
        });
        open.push(client);
        if (o.answered) client.once('message', finished);
        client.once('connect', () => {
          client.subscribe(c.topics.config, { qos: 0 });
          client.subscribe(c.topics.cmd, { qos: 0 }, (err) => {
            if (!err && !o.answered) finished();
          });
          client.publish(c.topics.status, '{"state":"online"}', { qos: 0, retain: true });
          client.publish(c.topics.hello, c.hello, { qos: 0 });
        });
        client.on('error', () => undefined);
      }
    });
    const ticker = setInterval(() => progress(done, Date.now() - started), 1000);
    const finished = await Promise.race([all.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs))]);
    clearInterval(ticker);
    const ms = Date.now() - started;
    const cpu1 = pid === null ? null : cpuMsOf(pid);
    const window: [number, number] = [mono0, monoUs()];
    const cpuMs = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
    // Settle as bench:fleet does before reading memory.
    await new Promise((r) => setTimeout(r, 3000));
    if (pid !== null) rssBytes = rssOf(pid);
    return { ms: finished ? ms : null, connected: done, idleRssBytes, rssBytes, cpuMs, window };
  } finally {
    // A DISCONNECT discards the wills.
    await Promise.all(open.map((c) => new Promise<void>((r) => (c.connected ? c.end(false, {}, () => r()) : c.end(true, {}, () => r())))));
    if (o.clearRetained)
      await clearRetained(
        url,
        clients.map((c) => c.topics.status),
      );
  }
}

async function clearRetained(url: string, topics: string[]): Promise<void> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, clientId: `peer-cleanup-${process.pid}` });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  for (const topic of topics) client.publish(topic, '', { qos: 0, retain: true });
  await new Promise<void>((r) => client.end(false, {}, () => r()));
}
