// Improv Wi-Fi over serial on the device side (firmware/core/improv.ts), run on Node and inside
// the real XS engine: state, device info, a network it cannot join (error "unable to connect",
// back to authorized), the right one (provisioning, then provisioned with an RPC result), a packet
// with a bad checksum (invalid RPC) and the optional scan it does not offer (unknown RPC). The XS
// transcript must be the Node one, byte for byte.
import * as assert from 'uvu/assert';
import { ImprovError, ImprovState, ImprovType } from '../../firmware/core/improv';
import { suite } from '../helpers/suite';
import { bundleForXs, repoPath } from './harness/bundle';
import { XsnapWorker } from './harness/xsnap-worker';
import { runImprovScenario, type ImprovTranscript } from './improv-scenario';

const test = suite('Improv on the device, Node and XS');
const { CURRENT_STATE: STATE, ERROR_STATE: ERROR, RPC_RESULT: RESULT } = ImprovType;

function checkTranscript(t: ImprovTranscript): void {
  const replies = Object.fromEntries(t.steps.map((s) => [s.sent, s.replies]));
  assert.equal(replies.state, [[STATE, [ImprovState.AUTHORIZED]]]);
  assert.equal(t.info, ['fleetbind', '1.2.3', 'moddable_two', 'esp32-240ac4000001']);
  assert.equal(replies['wrong passphrase'], [
    [ERROR, [ImprovError.NONE]],
    [STATE, [ImprovState.PROVISIONING]],
  ]);
  assert.equal(replies['join fails'], [
    [ERROR, [ImprovError.UNABLE_TO_CONNECT]],
    [STATE, [ImprovState.AUTHORIZED]],
  ]);
  assert.equal(replies['right passphrase'], [
    [ERROR, [ImprovError.NONE]],
    [STATE, [ImprovState.PROVISIONING]],
  ]);
  assert.equal(replies['join succeeds'], [
    [STATE, [ImprovState.PROVISIONED]],
    [RESULT, [0x01, 0]],
  ]);
  assert.equal(replies['state again'], [
    [STATE, [ImprovState.PROVISIONED]],
    [RESULT, [0x02, 0]],
  ]);
  assert.equal(replies['bad checksum'], [[ERROR, [ImprovError.INVALID_RPC]]]);
  assert.equal(replies['scan (not offered)'], [[ERROR, [ImprovError.UNKNOWN_RPC]]]);
  assert.equal(t.joins, [
    ['lab', 'not-the-passphrase'],
    ['lab', 'lab-passphrase'],
  ]);
  assert.equal(t.prefs, { ssid: 'lab', psk: 'lab-passphrase' });
}

test('on Node', () => {
  checkTranscript(runImprovScenario());
});

test('under XS (xsnap), the same transcript', async () => {
  const worker = new XsnapWorker('fleetbind-improv', () => new Uint8Array());
  try {
    await worker.evaluate(await bundleForXs({ entry: repoPath('test', 'xs', 'harness', 'improv-entry.ts') }));
    const reply = await worker.command(new Uint8Array([0]));
    const xs = JSON.parse(new TextDecoder().decode(reply)) as ImprovTranscript;
    checkTranscript(xs);
    assert.equal(xs, runImprovScenario());
  } finally {
    await worker.close();
  }
});

test.run();
