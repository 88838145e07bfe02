// A Moddable app has no TextEncoder/TextDecoder unless it installs them, and preloaded modules
// run before any setup could: the core must not need them. Runs the Improv scenario and the
// device core on XS with both globals removed, and checks firmware/core/utf8.ts against Node's
// TextEncoder/TextDecoder.
import * as assert from 'uvu/assert';
import { utf8Decode, utf8Encode } from '../../firmware/core/utf8';
import { suite } from '../helpers/suite';
import { bundleForXs, repoPath } from './harness/bundle';
import { XsnapWorker } from './harness/xsnap-worker';
import { runImprovScenario } from './improv-scenario';
import { bootEvent } from './harness/peer';

const test = suite('the core without TextEncoder/TextDecoder');
const REMOVE = 'delete globalThis.TextEncoder; delete globalThis.TextDecoder; if (typeof TextEncoder !== "undefined") throw new Error("still there");';

test('UTF-8 matches TextEncoder and TextDecoder on well-formed text', () => {
  const samples = ['', 'ascii', 'Café 12,00 €', 'Smørrebrød', '中文', '😀 emoji', 'x'.repeat(300) + '€', '\u0000\u007f\u0080\u07ff\u0800\uffff'];
  for (const s of samples) {
    assert.equal(Array.from(utf8Encode(s)), Array.from(new TextEncoder().encode(s)), s);
    assert.is(utf8Decode(new TextEncoder().encode(s)), s);
  }
  assert.equal(Array.from(utf8Encode('a\ud800b')), Array.from(new TextEncoder().encode('a\ud800b')), 'a lone surrogate becomes U+FFFD');
});

test('malformed UTF-8 decodes to U+FFFD, never throws and never drops the good bytes around it', () => {
  assert.is(utf8Decode(Uint8Array.of(0x61, 0xff, 0x62)), 'a\ufffdb');
  assert.is(utf8Decode(Uint8Array.of(0x61, 0xc3)), 'a\ufffd', 'truncated at the end');
  assert.is(utf8Decode(Uint8Array.of(0xc0, 0x80)), '\ufffd\ufffd', 'overlong');
  assert.is(utf8Decode(Uint8Array.of(0xed, 0xa0, 0x80)), '\ufffd\ufffd\ufffd', 'encoded surrogate');
});

test('Improv and the device core run on XS with neither global', async () => {
  const improv = new XsnapWorker('fleetbind-no-text-improv', () => new Uint8Array());
  try {
    await improv.evaluate(REMOVE);
    await improv.evaluate(await bundleForXs({ entry: repoPath('test', 'xs', 'harness', 'improv-entry.ts') }));
    const xs = JSON.parse(Buffer.from(await improv.command(new Uint8Array([0]))).toString('utf8')) as unknown;
    assert.equal(xs, JSON.parse(JSON.stringify(runImprovScenario())));
  } finally {
    await improv.close();
  }
  const core = new XsnapWorker('fleetbind-no-text-core', () => new Uint8Array());
  try {
    await core.evaluate(REMOVE);
    await core.evaluate(await bundleForXs());
    await core.command(Buffer.from(JSON.stringify(bootEvent())));
    const stats = JSON.parse(Buffer.from(await core.command(Buffer.from(JSON.stringify({ type: 'stats' })))).toString('utf8')) as { stats: { state: string } };
    assert.is(stats.stats.state, 'wifi');
  } finally {
    await core.close();
  }
});

test.run();
