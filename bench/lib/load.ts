// A publish load for MQTT benchmarks: publishers each send their messages with a bounded number
// in flight; throughput and publish→delivery latency are measured at the subscribers.
import type { MqttClient } from 'mqtt';

export interface Pair {
  pub: MqttClient;
  sub: MqttClient;
  topic: string;
}
export interface Result {
  msgsPerSec: number;
  p50: number;
  p99: number;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The middle value; with an even count, the mean of the two middle ones. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Every publisher sends `messages` with at most `window` in flight; subscribers may be shared. */
export async function drive(pairs: Pair[], messages: number, window: number): Promise<Result> {
  const latencies: number[] = [];
  const total = pairs.length * messages;
  let received = 0;
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    const subs = new Set(pairs.map((p) => p.sub));
    for (const sub of subs) {
      sub.removeAllListeners('message');
      sub.on('message', (_t, payload) => {
        latencies.push(performance.now() - Number(payload.toString('utf8', 0, payload.indexOf(0x7c))));
        if (++received === total) resolve();
      });
    }
  });
  const pad = 'x'.repeat(64);
  await Promise.all(
    pairs.map(async (p) => {
      for (let i = 0; i < messages; i += window) {
        const n = Math.min(window, messages - i);
        await Promise.all(
          Array.from({ length: n }, () => new Promise<void>((r) => p.pub.publish(p.topic, `${performance.now()}|${pad}`, { qos: 0 }, () => r()))),
        );
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  await done;
  const secs = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { msgsPerSec: total / secs, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}
