// Walk-up orders benchmark (not a test): C customers upload designs of about --mib MiB and order
// on M machines at once, against a broker in its own process. Prints uploads/s, the broker's
// processing time per upload p50/p99 (sniff, decode, fit, re-encode, thumbnail with sharp; its
// fleetbind_design_processing_seconds summary), upload latency p50/p99 as customers saw it, the
// broker's RSS after the burst (from /proc), and the device fetch throughput in MiB/s: each stored
// design fetched by its signed URL in 16 KiB Range windows, as the firmware's print handler does.
//
//   npm run bench:orders -- [--customers 200] [--machines 20] [--mib 2]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
import { connectAgent, randomMac, request } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { JobDevice } from '../../test/helpers/job-device';
import { metric } from '../../test/helpers/metrics';
import { end } from '../../test/helpers/mqtt';
import { noisyImage, openCustomer, order, upload } from '../../test/helpers/orders';
import { waitUntil } from '../../test/helpers/wait';
import { percentile } from '../lib/load';
import { rssOf } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:orders --',
    usage: ['[--customers 200] [--machines 20] [--mib 2]'],
    summary:
      "Customers upload designs and order on machines at once against a broker in its own process; prints uploads/s, the broker's sharp processing p50/p99, upload latency p50/p99, broker RSS and the device fetch throughput.",
    options: {
      customers: { type: 'string', value: 'N', default: '200', help: 'customers, each uploading one design and ordering it' },
      machines: { type: 'string', value: 'N', default: '20', help: 'machines open to orders, shared by the customers in turn' },
      mib: { type: 'string', value: 'MIB', default: '2', help: 'size of each design in MiB (incompressible PNG)' },
    },
  }),
);
const customers = Number(values.customers);
const machineCount = Number(values.machines);
const mib = Number(values.mib);

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-orders-'));
const admin = randomBytes(24).toString('hex');
const unlimited = String(2 ** 40);
const bp = await BrokerProcess.start(dir, admin, [
  '--queue-cap',
  '1000',
  '--device-limit',
  '1000',
  '--orders-per-hour',
  '100000',
  '--uploads-per-hour',
  '100000',
  '--order-upload-max-bytes',
  String(Math.ceil((mib + 1) * 1024 * 1024)),
  // Every bench customer uploads from this one address: the per-address byte budget would refuse the burst.
  '--upload-bytes-per-hour',
  `${unlimited},${unlimited},${unlimited}`,
]);
// A run that throws still ends its broker.
process.once('exit', () => bp.child.kill('SIGKILL'));
const ok = async <T>(r: Promise<{ status: number; body: T }>, want: number, what: string): Promise<T> => {
  const got = await r;
  if (got.status !== want) throw new Error(`${what}: ${got.status} ${JSON.stringify(got.body)}`);
  return got.body;
};
const password = randomBytes(12).toString('hex');
await ok(bp.api('POST', '/api/agents', { id: 'bench-op', name: 'Bench', password }), 201, 'agent');
const token = (await ok(bp.api<{ token: string }>('POST', '/api/login', { id: 'bench-op', password }, undefined), 200, 'login')).token;
const agent = await connectAgent(bp.mqttUrl, 'bench-op', token);
const machines: Array<{ device: JobDevice; label: string }> = [];
for (let i = 0; i < machineCount; i++) {
  const mac = randomMac();
  const code = `BO${i}${randomBytes(2).toString('hex').toUpperCase()}`;
  const dev = await ok(bp.api<{ id: string; secret: string }>('POST', '/api/devices', { mac, machineCode: code, model: 'test-board' }), 201, 'device');
  const device = await JobDevice.connect(bp.mqttUrl, { id: dev.id, secret: dev.secret, mac }, { caps: ['identify', 'print'], mode: 'hold' });
  const claimed = await request(agent, { kind: 'agent', id: 'bench-op' }, { op: 'claim', target: dev.id });
  if (!claimed.ok) throw new Error(`claim: ${JSON.stringify(claimed)}`);
  await ok(bp.api('POST', `/api/devices/${dev.id}/order-settings`, { enabled: true }), 200, 'order settings');
  const label = await ok(bp.api<{ url: string }>('GET', `/api/order-labels/${code}`), 200, 'order label');
  machines.push({ device, label: new URL(label.url).pathname });
}
// Noise does not compress: width × height × 3 bytes ≈ the wanted size as PNG.
const side = Math.round(Math.sqrt((mib * 1024 * 1024) / 3 / 2));
const images = await Promise.all(Array.from({ length: 8 }, () => noisyImage(side, side * 2)));
console.log(`${customers} customers, ${machineCount} machines, designs of ${(images[0]!.length / 1048576).toFixed(2)} MiB (${side}×${side * 2} px)`);

const base = bp.httpUrl;
const latencies: number[] = [];
const designs: string[] = [];
const started = performance.now();
await Promise.all(
  Array.from({ length: customers }, async (_, i) => {
    const m = machines[i % machineCount]!;
    const c = await openCustomer(base, m.label);
    const t0 = performance.now();
    const up = await upload(base, c, images[i % images.length]!);
    latencies.push(performance.now() - t0);
    if (up.status !== 201) throw new Error(`upload ${up.status}: ${JSON.stringify(up.body)}`);
    designs.push(up.body.design);
    const o = await order(base, c, { design: up.body.design });
    if (o.status !== 201) throw new Error(`order ${o.status}: ${JSON.stringify(o.body)}`);
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const metrics = (await bp.api<string>('GET', '/metrics')).body;
const processing = (q: string): string => (metric(metrics, 'fleetbind_design_processing_seconds', { quantile: q }) * 1000).toFixed(0);
console.log(`uploads+orders: ${customers} in ${seconds.toFixed(1)} s = ${(customers / seconds).toFixed(1)} uploads/s`);
console.log(
  `broker processing per upload (sharp): p50 ${processing('0.5')} ms, p99 ${processing('0.99')} ms (${metric(metrics, 'fleetbind_design_processing_seconds_count')} uploads)`,
);
console.log(`upload latency as customers saw it: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
console.log(`broker RSS after the burst: ${((rssOf(bp.child.pid!) ?? 0) / 1048576).toFixed(0)} MiB`);

// Each machine runs its first order: fetch that design by the signed URL its device was sent.
const sent = await Promise.all(
  machines.map((m) =>
    waitUntil(() => m.device.cmds.find((c) => c.kind === 'print' && typeof c.params.url === 'string'), 60_000, 'a print cmd at every machine'),
  ),
);
let bytes = 0;
const f0 = performance.now();
for (const cmd of sent) {
  // The URL names the broker's public address; this broker listens on a port of its own choosing.
  const signed = new URL(cmd.params.url as string, base);
  const url = base + signed.pathname + signed.search;
  const size = cmd.params.size as number;
  for (let at = 0; at < size; at += PRINT_WINDOW_BYTES) {
    const res = await fetch(url, { headers: { range: `bytes=${at}-${Math.min(size, at + PRINT_WINDOW_BYTES) - 1}` } });
    bytes += (await res.arrayBuffer()).byteLength;
  }
}
const fetchSeconds = (performance.now() - f0) / 1000;
console.log(
  `device fetch: ${sent.length} designs, ${(bytes / 1048576).toFixed(1)} MiB in ${PRINT_WINDOW_BYTES / 1024} KiB windows: ${(bytes / 1048576 / fetchSeconds).toFixed(1)} MiB/s`,
);

for (const m of machines) await m.device.close();
await end(agent);
await bp.stop();
rmSync(dir, { recursive: true, force: true });
