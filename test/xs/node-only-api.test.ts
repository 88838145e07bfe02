// The XS run is only worth something if it catches code that works on Node but not on the
// device. Here the core's base64 is swapped for a Buffer-based one: the same serial.send
// scenario passes on Node and fails under XS, which names the missing API.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { repoPath } from './harness/bundle';
import { nodeDriver, xsDriver, type CoreDriver } from './harness/drivers';
import { Peer } from './harness/peer';
import { XsError, XsnapWorker } from './harness/xsnap-worker';
import { scenarios } from './core-scenarios';
import { decodeBase64, encodeBase64 } from './fixtures/base64-node';

const test = suite('XS catches Node-only APIs');
const scenario = scenarios['serial.send relays bytes and returns the reply in base64']!;
const nodeVariant = { replace: { [repoPath('firmware', 'core', 'base64')]: repoPath('test', 'xs', 'fixtures', 'base64-node.ts') } };

async function runScenario(driver: CoreDriver): Promise<{ error: unknown; peer: Peer }> {
  const peer = new Peer(driver);
  try {
    await scenario(peer);
    return { error: null, peer };
  } catch (error) {
    return { error, peer };
  } finally {
    await driver.close();
  }
}

test('the Buffer-based variant is a working base64 on Node', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255, 80, 79]);
  assert.equal(decodeBase64(encodeBase64(bytes)), bytes);
});

test('the serial scenario passes on Node with the real core', async () => {
  const { error } = await runScenario(nodeDriver());
  assert.is(error, null);
});

test('the same scenario fails under XS when the core uses Buffer, and XS names it', async () => {
  const { error, peer } = await runScenario(await xsDriver(nodeVariant));
  assert.ok(error instanceof Error, 'the scenario must fail under XS');
  const thrown = peer.logs('error', 'job handler threw').map((l) => String(l.fields?.error));
  assert.is(thrown.length, 1, 'the core reports the exception it caught');
  assert.match(thrown[0]!, /ReferenceError: .*get Buffer: undefined variable/);
  const failed = peer.acks('ser-1').find((a) => a.state === 'failed');
  assert.match(failed?.error ?? '', /^INTERNAL: start threw: ReferenceError/);
  console.log(`# XS error seen by the core: ${thrown[0]}`);
});

test('a Node global used at the top level is an uncaught ReferenceError in XS', async () => {
  const worker = new XsnapWorker('node-only-probe', () => new Uint8Array());
  try {
    for (const [code, name] of [
      ['Buffer.from("x")', 'Buffer'],
      ['setTimeout(() => {}, 1)', 'setTimeout'],
      ['process.env', 'process'],
    ] as const) {
      const outcome = await worker.evaluate(code).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(outcome instanceof XsError, `${code} must fail in XS`);
      assert.match(outcome.xsText, new RegExp(`^ReferenceError: .*get ${name}: undefined variable$`));
      console.log(`# XS: ${code} -> ${outcome.xsText}`);
    }
  } finally {
    await worker.close();
  }
});

test.run();
