// The core's print handler on Node and inside the real XS engine (print-scenario.ts): a design
// streamed through a fake fetch (one window cut part way and resumed with Range) and a fake
// printer on the serial exchange (busy once), whose sha256 of what it received must match; and
// a corrupted download refused by the device's own hash before END, with the printer told ABORT;
// a server gone for a minute (a broker restart) is waited out and the window resumes where it
// broke; one that never comes back fails the job once nothing has arrived for the stall budget.
import { createHash } from 'node:crypto';
import * as assert from 'uvu/assert';
import { PRINT_FETCH_MAX_BACKOFF_MS, PRINT_FETCH_STALL_MS, PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
import { suite } from '../helpers/suite';
import { bundleForXs, repoPath } from './harness/bundle';
import { XsnapWorker } from './harness/xsnap-worker';
import { type PrintTranscript, design, runPrintScenario } from './print-scenario';

const test = suite('firmware print handler on Node and XS');
const W = PRINT_WINDOW_BYTES;
const size = W * 2 + 7_000;
const sha = createHash('sha256').update(design(size)).digest('hex');

function checkGood(t: PrintTranscript): void {
  assert.equal(t.outcome, { done: { bytes: size, sha256: sha, copies: 2 } });
  // Window 2 broke after 5000 bytes and resumed from there, not from its start.
  assert.equal(t.ranges, [
    [0, W - 1],
    [W, 2 * W - 1],
    [W + 5_000, 2 * W - 1],
    [2 * W, size - 1],
  ]);
  assert.equal(t.printer, { commands: [`DESIGN ${size} 2 ${sha}`, 'DATA', 'END'], bytes: size, sha256: sha, verdict: 'ok' });
  assert.equal(t.progress, [0, Math.floor((W * 100) / size), Math.floor((2 * W * 100) / size), 100]);
}

function checkCorrupt(t: PrintTranscript): void {
  assert.match(t.outcome.failed ?? '', /^CHECKSUM: /);
  assert.is(t.outcome.done, undefined);
  assert.is(t.printer.verdict, 'aborted', 'the printer is told to drop what it got');
  assert.not.ok(t.printer.commands.includes('END'));
}

function checkOutage(t: PrintTranscript): void {
  assert.equal(t.outcome, { done: { bytes: size, sha256: sha, copies: 2 } });
  // The rest of the broken window is asked for again and again (refused for the minute, spaced by a
  // backoff capped at its maximum) until it comes.
  const [first, second, resumed, last] = t.ranges;
  assert.equal(
    [first, second, resumed!.slice(0, 2), last],
    [
      [0, W - 1],
      [W, 2 * W - 1],
      [W + 5_000, 2 * W - 1],
      [2 * W, size - 1],
    ],
  );
  const retries = (resumed![2] ?? 1) - 1;
  assert.ok(retries >= 60_000 / PRINT_FETCH_MAX_BACKOFF_MS && retries < 60_000 / 100, `${retries} refused retries`);
  assert.is(t.printer.verdict, 'ok');
}

function checkGone(t: PrintTranscript): void {
  assert.match(t.outcome.failed ?? '', /^FETCH: connection refused; nothing fetched for \d+ s after \d+ attempts$/);
  const seconds = Number(/for (\d+) s/.exec(t.outcome.failed!)![1]);
  assert.ok(seconds * 1000 >= PRINT_FETCH_STALL_MS && seconds * 1000 < PRINT_FETCH_STALL_MS + PRINT_FETCH_MAX_BACKOFF_MS + 1000, `gave up after ${seconds} s`);
  assert.is(t.printer.verdict, 'aborted');
}

const scenarios = (): PrintTranscript[] => [
  runPrintScenario(),
  runPrintScenario({ corrupt: true }),
  runPrintScenario({ outageMs: 60_000 }),
  runPrintScenario({ outageMs: Infinity }),
];

function checkAll([good, corrupt, outage, gone]: PrintTranscript[]): void {
  checkGood(good!);
  checkCorrupt(corrupt!);
  checkOutage(outage!);
  checkGone(gone!);
}

test('on Node', () => {
  checkAll(scenarios());
});

test('under XS (xsnap), the same transcripts', async () => {
  const worker = new XsnapWorker('fleetbind-print', () => new Uint8Array());
  try {
    await worker.evaluate(await bundleForXs({ entry: repoPath('test', 'xs', 'harness', 'print-entry.ts') }));
    const onXs = JSON.parse(new TextDecoder().decode(await worker.command(new Uint8Array([0])))) as PrintTranscript[];
    assert.is(onXs.length, 4);
    checkAll(onXs);
    assert.equal(onXs, scenarios());
  } finally {
    await worker.close();
  }
});

test.run();
