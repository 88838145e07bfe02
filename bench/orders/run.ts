// Walk-up orders benchmark (not a test): C customers upload designs of about --mib MiB and order
// on M machines at once, against a broker in this process. Prints uploads/s, upload latency
// p50/p99 (mostly sharp: sniff, decode, fit, re-encode, thumbnail), the process RSS after the
// burst (broker plus these clients), and the device fetch throughput in MiB/s: each stored
// design fetched by its signed URL in 16 KiB Range windows, as the firmware's print handler does.
//
//   npm run bench:orders -- [--customers 200] [--machines 20] [--mib 2]
import { defineCli, readCli } from '../../host-tools/cli/args';
import { ORDER_DEFAULTS } from '../../broker/orders/options';
import { PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
import { TestBroker } from '../../test/helpers/broker';
import { end } from '../../test/helpers/mqtt';
import { type Machine, noisyImage, openCustomer, order, orderLabel, orderMachine, upload } from '../../test/helpers/orders';
import { percentile } from '../lib/load';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:orders --',
    usage: ['[--customers 200] [--machines 20] [--mib 2]'],
    summary: 'Customers upload designs and order on machines at once against a broker in this process; prints uploads/s, upload latency p50/p99, RSS and the device fetch throughput.',
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

const tb = await TestBroker.start({ queueCap: 1000, deviceLimit: 1000, orders: { ...ORDER_DEFAULTS, ordersPerHour: 100_000, uploadsPerHour: 100_000, uploadMaxBytes: Math.ceil((mib + 1) * 1024 * 1024) } });
const agent = await tb.agent('bench-op');
const machines: Machine[] = [];
for (let i = 0; i < machineCount; i++) machines.push(await orderMachine(tb, agent, { mode: 'hold' }));
// Noise does not compress: width × height × 3 bytes ≈ the wanted size as PNG.
const side = Math.round(Math.sqrt((mib * 1024 * 1024) / 3 / 2));
const images = await Promise.all(Array.from({ length: 8 }, () => noisyImage(side, side * 2)));
console.log(`${customers} customers, ${machineCount} machines, designs of ${(images[0]!.length / 1048576).toFixed(2)} MiB (${side}×${side * 2} px)`);

const base = tb.broker.httpUrl;
const latencies: number[] = [];
const designs: string[] = [];
const started = performance.now();
await Promise.all(
  Array.from({ length: customers }, async (_, i) => {
    const m = machines[i % machineCount]!;
    const c = await openCustomer(base, orderLabel(tb, m.code));
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
console.log(`uploads+orders: ${customers} in ${seconds.toFixed(1)} s = ${(customers / seconds).toFixed(1)} uploads/s`);
console.log(`upload latency (sharp processing included): p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
console.log(`RSS after the burst (broker + bench clients in one process): ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);

const unique = [...new Set(designs)];
let bytes = 0;
const f0 = performance.now();
for (const sha of unique) {
  const info = (await tb.ctx.blobs.stat(sha))!;
  const url = base + tb.ctx.blobUrls.path(sha, 60_000);
  for (let at = 0; at < info.size; at += PRINT_WINDOW_BYTES) {
    const res = await fetch(url, { headers: { range: `bytes=${at}-${Math.min(info.size, at + PRINT_WINDOW_BYTES) - 1}` } });
    bytes += (await res.arrayBuffer()).byteLength;
  }
}
const fetchSeconds = (performance.now() - f0) / 1000;
console.log(`device fetch: ${unique.length} designs, ${(bytes / 1048576).toFixed(1)} MiB in ${PRINT_WINDOW_BYTES / 1024} KiB windows: ${(bytes / 1048576 / fetchSeconds).toFixed(1)} MiB/s`);

for (const m of machines) await m.device.close();
await end(agent.client);
await tb.stop();
