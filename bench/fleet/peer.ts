// bench:fleet's peers: N plain MQTT clients doing what a device does when its session starts
// (connect with a retained will, subscribe to its config and cmd topics, publish a retained
// status and a hello), all at once, against bare Aedes and Mosquitto. No firmware core, no
// auth, no registry: the floor fleetbind's own connect burst is compared with.
import mqtt, { type MqttClient } from 'mqtt';
import { cpuMsOf, rssOf } from '../lib/proc';

export interface BurstResult {
  ms: number | null;
  connected: number;
  /** The peer's resident memory before the burst and with every client connected. */
  idleRssBytes: number | null;
  rssBytes: number | null;
  /** The peer process's CPU time (user + system) from the first connect until all held their subscriptions. */
  cpuMs: number | null;
}

/** Connects `n` device-like clients at once; resolves when all hold their subscriptions, or at the deadline. */
export async function burst(
  url: string,
  n: number,
  deadlineMs: number,
  pid: number | null,
  progress: (done: number, elapsedMs: number) => void,
): Promise<BurstResult> {
  const run = Math.random().toString(36).slice(2, 8);
  const clients: MqttClient[] = [];
  let done = 0;
  const started = Date.now();
  const idleRssBytes = pid === null ? null : rssOf(pid);
  let rssBytes: number | null = null;
  const cpu0 = pid === null ? null : cpuMsOf(pid);
  try {
    const all = new Promise<void>((resolve) => {
      for (let i = 0; i < n; i++) {
        const base = `peer-${run}/${i}`;
        const client = mqtt.connect(url, {
          clientId: `peer-${run}-${i}`,
          protocolVersion: 4,
          keepalive: 30,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: deadlineMs,
          will: { topic: `${base}/status`, payload: Buffer.from('{"state":"offline"}'), qos: 0, retain: true },
        });
        clients.push(client);
        client.once('connect', () => {
          client.subscribe([`${base}/config`, `${base}/cmd`], { qos: 0 }, (err) => {
            if (err) return;
            client.publish(`${base}/status`, '{"state":"online"}', { qos: 0, retain: true });
            client.publish(`${base}/hello`, '{"fw":"peer","model":"peer"}', { qos: 0 });
            if (++done === n) resolve();
          });
        });
        client.on('error', () => undefined);
      }
    });
    const ticker = setInterval(() => progress(done, Date.now() - started), 1000);
    const finished = await Promise.race([all.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs))]);
    clearInterval(ticker);
    const ms = Date.now() - started;
    const cpu1 = pid === null ? null : cpuMsOf(pid);
    const cpuMs = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
    // Settle as bench:fleet does before reading memory.
    await new Promise((r) => setTimeout(r, 3000));
    if (pid !== null) rssBytes = rssOf(pid);
    return { ms: finished ? ms : null, connected: done, idleRssBytes, rssBytes, cpuMs };
  } finally {
    // A DISCONNECT discards the wills, then the retained statuses go, so a peer that keeps
    // its retained store on disk (Mosquitto's persistence) is left as it was found.
    await Promise.all(clients.map((c) => new Promise<void>((r) => (c.connected ? c.end(false, {}, () => r()) : c.end(true, {}, () => r())))));
    await clearRetained(
      url,
      Array.from({ length: n }, (_, i) => `peer-${run}/${i}/status`),
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
