// The core's print handler on Node and inside the real XS engine (print-scenario.ts): a design
// streamed through a fake fetch (one window cut part way and resumed with Range) and a fake
// printer on the serial exchange (busy once), whose sha256 of what it received must match; and
// a corrupted download refused by the device's own hash before END, with the printer told ABORT.
import { createHash } from 'node:crypto';
import * as assert from 'uvu/assert';
import { PRINT_WINDOW_BYTES } from '../../firmware/core/handlers/print';
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
  assert.equal(t.ranges, [[0, W - 1], [W, 2 * W - 1], [W + 5_000, 2 * W - 1], [2 * W, size - 1]]);
  assert.equal(t.printer, { commands: [`DESIGN ${size} 2 ${sha}`, 'DATA', 'END'], bytes: size, sha256: sha, verdict: 'ok' });
  assert.equal(t.progress, [0, Math.floor((W * 100) / size), Math.floor((2 * W * 100) / size), 100]);
}

function checkCorrupt(t: PrintTranscript): void {
  assert.match(t.outcome.failed ?? '', /^CHECKSUM: /);
  assert.is(t.outcome.done, undefined);
  assert.is(t.printer.verdict, 'aborted', 'the printer is told to drop what it got');
  assert.not.ok(t.printer.commands.includes('END'));
}

test('on Node', () => {
  checkGood(runPrintScenario());
  checkCorrupt(runPrintScenario({ corrupt: true }));
});

test('under XS (xsnap), the same transcripts', async () => {
  const worker = new XsnapWorker('fleetbind-print', () => new Uint8Array());
  try {
    await worker.evaluate(await bundleForXs({ entry: repoPath('test', 'xs', 'harness', 'print-entry.ts') }));
    const [good, corrupt] = JSON.parse(new TextDecoder().decode(await worker.command(new Uint8Array([0])))) as [PrintTranscript, PrintTranscript];
    checkGood(good);
    checkCorrupt(corrupt);
    assert.equal([good, corrupt], [runPrintScenario(), runPrintScenario({ corrupt: true })]);
  } finally {
    await worker.close();
  }
});

test.run();
