// XS memory budget of the device core (docs/architecture.md, Firmware). Runs the real
// firmware/core + protocol/ inside the XS engine (xsnap-worker, as the tests do) through the
// worst cases a device meets: connect and hello, hundreds of jobs with the largest QR text a
// qr.show allows (1024 characters), a full dedupe ring, configs with long agent names, serial
// jobs, and a storm of reconnects with Wi-Fi drops. After each phase it reads the XS slot heap:
// live slots after a collection (what must fit) and the most in use before one (garbage
// included: how much a phase churns between collections). Prints them against the `creation` sizes in
// manifest.json per board, and exits 1 when the live peak plus the margin exceeds a budget.
//
// xsnap reports slots only. Chunks (strings, byte code outside flash, buffers) and the stack are
// measured on a Moddable lin build with the instrumentation module; docs/architecture.md (Firmware) gives that run.
//
//   npm run bench:xs-budget -- [--jobs 600] [--reconnects 200] [--margin 1.25]
import { readFileSync } from 'node:fs';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { xsDriver, type XsCoreDriver } from '../../test/xs/harness/drivers';
import { Peer, bootEvent } from '../../test/xs/harness/peer';
import { repoPath } from '../../test/xs/harness/bundle';
import { coreModules } from '../lib/firmware-modules';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:xs-budget --',
    usage: ['[--jobs 600] [--reconnects 200] [--margin 1.25]'],
    summary:
      "Runs the firmware core under XS through its worst cases and prints the slot heap's live and in-use peaks against each board's creation sizes; exits 1 over budget.",
    options: {
      jobs: { type: 'string', value: 'N', default: '600', help: 'qr.show jobs with the largest QR text' },
      reconnects: { type: 'string', value: 'N', default: '200', help: 'reconnects, with Wi-Fi drops among them' },
      margin: { type: 'string', value: 'X', default: '1.25', help: 'headroom the live peak must leave under each budget' },
    },
  }),
);
const JOBS = Number(values.jobs);
const RECONNECTS = Number(values.reconnects);
const MARGIN = Number(values.margin);
/** Each slot is 16 bytes on a 32-bit MCU. */
const SLOT_BYTES = 16;

interface Creation {
  static?: number;
  chunk?: { initial?: number; incremental?: number };
  heap?: { initial?: number; incremental?: number };
  stack?: number;
}
interface Manifest {
  creation?: Creation;
  platforms: Record<string, { creation?: Creation }>;
}

const manifest = JSON.parse(readFileSync(repoPath('manifest.json'), 'utf8')) as Manifest & { preload?: string[] };
const boards = Object.keys(manifest.platforms).filter((p) => p !== '...');

interface Phase {
  name: string;
  live: number;
  peak: number;
}

async function run(): Promise<Phase[]> {
  const driver: XsCoreDriver = await xsDriver();
  const peer = new Peer(driver);
  const phases: Phase[] = [];
  let peak = 0;
  const send = async (...args: Parameters<Peer['send']>): Promise<void> => {
    await peer.send(...args);
    peak = Math.max(peak, driver.heapNow());
  };
  const mark = async (name: string): Promise<void> => {
    const live = await driver.heapAfterGc();
    phases.push({ name, live, peak: Math.max(peak, live) });
    peak = 0;
    peer.fresh();
    driver.calls.length = 0;
  };
  try {
    await mark('engine and bundle loaded');
    await send(bootEvent({ facts: { ...bootEvent().facts, caps: ['qr.show', 'identify', 'serial.send'], screen: { width: 240, height: 320 } }, serial: true }));
    await mark('boot');
    await send({ type: 'wifi', status: 'gotip' });
    await send({ type: 'mqtt.ready' });
    await peer.deliver('config', { agent: { id: 'agent-1', name: 'A'.repeat(64) }, settings: { keepalive: 30 }, time: { now: 1_700_000_000_000 } });
    await mark('connected, hello, config');
    const bigQr = 'https://pay.example/c?'.padEnd(1024, 'x');
    for (let n = 0; n < JOBS; n++) {
      const kind = n % 4;
      const job = `job-${n}`;
      if (kind === 1) await peer.cmd(job, 'serial.send', { data: Buffer.from('PING'.repeat(64)).toString('base64'), timeoutMs: 500 });
      else if (kind === 2) await peer.cmd(job, 'identify', { seconds: 1 });
      else await peer.cmd(job, 'qr.show', { text: bigQr, caption: 'Order ' + n, amount: 12.5, currency: 'EUR', expiresInSeconds: 1 });
      peak = Math.max(peak, driver.heapNow());
      if (kind === 1) await send({ type: 'serial.reply', ok: true, data: '4f4b0d0a' });
      await send({ type: 'advance', ms: 1_100 });
      if (n % 50 === 0) await peer.deliver('config', { agent: { id: `agent-${n}`, name: `Agent ${n} `.repeat(6) }, settings: {} });
      driver.calls.length = 0;
    }
    await mark(`${JOBS} jobs (largest QR, serial, identify; dedupe ring full)`);
    /** Advances the virtual clock a second at a time until the core makes this call (its backoff ran out). */
    const until = async (op: 'wifi.connect' | 'mqtt.connect'): Promise<void> => {
      for (let s = 0; s < 600; s++) {
        if (driver.calls.some((c) => c.op === op)) return;
        await send({ type: 'advance', ms: 1_000 });
      }
      throw new Error(`no ${op} within 600 s`);
    };
    for (let n = 0; n < RECONNECTS; n++) {
      driver.calls.length = 0;
      if (n % 10 === 9) {
        await send({ type: 'wifi', status: 'disconnected' });
        await until('wifi.connect');
        await send({ type: 'wifi', status: 'gotip' });
      } else {
        await send({ type: 'mqtt.close', reason: 'socket closed' });
      }
      await until('mqtt.connect');
      await send({ type: 'mqtt.ready' });
    }
    driver.calls.length = 0;
    await mark(`${RECONNECTS} reconnects (every tenth with a Wi-Fi drop)`);
    const stats = await peer.stats();
    if (stats.stats.state !== 'ready') throw new Error(`the core ended in state ${stats.stats.state}, not ready`);
    return phases;
  } finally {
    await driver.close();
  }
}

function budgetOf(board: string): { slots: number | null; chunks: number | null; stack: number | null; static: number | null } {
  const c = { ...manifest.creation, ...manifest.platforms[board]?.creation };
  return { slots: c.heap?.initial ?? null, chunks: c.chunk?.initial ?? null, stack: c.stack ?? null, static: c.static ?? null };
}

const phases = await run();
console.log(`XS slot heap of firmware/core on xsnap-worker (${JOBS} jobs, ${RECONNECTS} reconnects):`);
console.log('  phase'.padEnd(64) + 'live slots'.padStart(12) + 'before gc'.padStart(12));
for (const p of phases) console.log(`  ${p.name}`.padEnd(64) + String(p.live).padStart(12) + String(p.peak).padStart(12));
const base = phases[0]!.live;
const livePeak = Math.max(...phases.map((p) => p.live));
const coreLive = livePeak - base;
console.log(
  `\nthe core's own live slots at worst: ${coreLive} (${((coreLive * SLOT_BYTES) / 1024).toFixed(1)} KiB at ${SLOT_BYTES} bytes a slot), over the ${base} of the bare engine and bundle`,
);
console.log(`with a margin of ${MARGIN}: ${Math.ceil(coreLive * MARGIN)} slots\n`);
let over = false;
console.log(
  '  board'.padEnd(24) + 'heap.initial'.padStart(14) + 'core share'.padStart(12) + 'chunk.initial'.padStart(15) + 'stack'.padStart(8) + 'static'.padStart(9),
);
for (const board of boards) {
  const b = budgetOf(board);
  const share = b.slots === null ? 'none set' : `${Math.round((coreLive / b.slots) * 100)} %`;
  if (b.slots !== null && coreLive * MARGIN > b.slots) over = true;
  console.log(
    `  ${board}`.padEnd(24) +
      String(b.slots ?? '-').padStart(14) +
      share.padStart(12) +
      String(b.chunks ?? '-').padStart(15) +
      String(b.stack ?? '-').padStart(8) +
      String(b.static ?? '-').padStart(9),
  );
}
const notPreloaded = (await coreModules()).filter((m) => !(manifest.preload ?? []).includes(m));
console.log(
  `\npreloaded (run from flash): ${(manifest.preload ?? []).length} modules; core modules not preloaded: ${notPreloaded.length === 0 ? 'none' : notPreloaded.join(', ')}`,
);
if (over) {
  console.error(`\nover budget: the core needs ${Math.ceil(coreLive * MARGIN)} slots with the margin, more than a board's heap.initial`);
  process.exit(1);
}
