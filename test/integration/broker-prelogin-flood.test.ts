// Memory before login (docs/architecture.md, Pre-login protection): 40 unauthenticated sockets
// each announce a 256 MB CONNECT and stream into it. The broker reads each packet's length as it
// arrives and closes the socket at once, so its memory stays within a bound, while a canary
// device and agent keep exchanging jobs throughout. Also: the per-address cap on unauthenticated
// sockets, and the CONNECT deadline.
import { connect as tcpConnect, type Socket } from 'node:net';
import * as assert from 'uvu/assert';
import { identify, jobIn, jobSuite, submitOk } from '../helpers/jobs';
import { metric } from '../helpers/metrics';

const PRE_AUTH_PER_ADDRESS = 50;
const { s, env } = jobSuite('pre-login flood', { jobAckTimeoutMs: 500, preAuthPerAddress: PRE_AUTH_PER_ADDRESS });
/** RSS growth the flood may cause: it would be gigabytes if the broker buffered the packets. */
const RSS_BOUND = 96 * 1024 * 1024;
const SOCKETS = 40;
const MiB = 1024 * 1024;

/** A CONNECT fixed header announcing `length` bytes (MQTT varint). */
function connectHeader(length: number): Buffer {
  const bytes = [0x10];
  let n = length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** Opens a socket that streams an oversized CONNECT; resolves with how many bytes it got out before the broker closed it. */
function flood(port: number, perSocket: number): Promise<{ sent: number; closedByBroker: boolean }> {
  return new Promise((resolve) => {
    const sock: Socket = tcpConnect({ host: '127.0.0.1', port });
    let sent = 0;
    let ourTimeout = false;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const pump = (): void => {
      while (sent < perSocket && !sock.destroyed) {
        sent += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
    };
    sock.on('connect', () => {
      sock.write(connectHeader(256 * MiB));
      pump();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ sent, closedByBroker: !ourTimeout }));
    setTimeout(() => {
      ourTimeout = true;
      sock.destroy();
    }, 20_000).unref();
  });
}

s('40 sockets announcing 256 MB CONNECTs are closed early, broker memory stays bounded, and jobs keep flowing', async () => {
  const tb = env.tb;
  const port = tb.broker.mqttPort;
  const w = await env.watch({ mode: 'run', durationMs: 5 });
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let jobs = 0;
  let flooding = true;
  const canary = (async () => {
    while (flooding) {
      const j = await submitOk(w.agent, identify(w.device.id));
      await jobIn(tb, j, ['done'], w.agent.token);
      jobs++;
    }
  })();
  const results = await Promise.all(Array.from({ length: SOCKETS }, () => flood(port, 48 * MiB)));
  flooding = false;
  await canary;
  clearInterval(sampler);
  assert.ok(
    results.every((r) => r.closedByBroker),
    `every socket closed by the broker, not by the test's 20 s limit: ${JSON.stringify(results.map((r) => r.sent))}`,
  );
  assert.ok(
    results.every((r) => r.sent < 48 * MiB),
    'no socket got its whole 48 MiB in',
  );
  assert.ok(peak - before < RSS_BOUND, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB, bound ${RSS_BOUND / MiB} MiB`);
  assert.ok(jobs >= 1, 'the canary device and agent exchanged jobs during the flood');
  const j = await submitOk(w.agent, identify(w.device.id));
  await jobIn(tb, j, ['done'], w.agent.token);
  const text = await (await fetch(`${tb.broker.httpUrl}/metrics`)).text();
  assert.ok(metric(text, 'fleetbind_connection_guard_refusals_total', { reason: 'oversize-before-connack' }) >= SOCKETS);
});

s('an address over its cap of unauthenticated sockets is refused; a socket that never sends CONNECT is closed by the deadline', async () => {
  const tb = env.tb;
  const idle: Socket[] = [];
  const closed: Promise<void>[] = [];
  for (let i = 0; i < PRE_AUTH_PER_ADDRESS + 5; i++) {
    const sock = tcpConnect({ host: '127.0.0.1', port: tb.broker.mqttPort });
    sock.on('error', () => undefined);
    closed.push(new Promise((r) => sock.once('close', () => r())));
    idle.push(sock);
  }
  // The five over the cap are closed at once, well before the CONNECT deadline.
  const t0 = Date.now();
  await Promise.race([Promise.all(closed.slice(PRE_AUTH_PER_ADDRESS)), new Promise((r) => setTimeout(r, 5000))]);
  const early = idle.filter((s) => s.destroyed || s.readyState === 'closed').length;
  assert.ok(early >= 5, `${early} sockets closed within ${Date.now() - t0} ms`);
  const text = await (await fetch(`${tb.broker.httpUrl}/metrics`)).text();
  assert.ok(metric(text, 'fleetbind_connection_guard_refusals_total', { reason: 'unauthenticated-per-address' }) >= 5);
  // The rest never send CONNECT: the deadline closes them all.
  await Promise.all(closed);
});

s.run();
