// The README's webhook verification snippet is the code operators copy: run it as printed against
// headers the broker's own signer makes, so the two cannot drift apart.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as assert from 'uvu/assert';
import { signatureHeader } from '../../broker/webhooks/signature';
import { suite } from '../helpers/suite';

const t = suite('README webhook snippet');

type Verify = (secret: string, rawBody: string, header: string, toleranceSec?: number) => boolean;

async function readmeVerifier(): Promise<Verify> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((code) => code.includes('function verifyFleetbindSignature'));
  assert.ok(block, 'the README has a js block defining verifyFleetbindSignature');
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-readme-'));
  try {
    const file = join(dir, 'snippet.mjs');
    writeFileSync(file, `${block}\nexport { verifyFleetbindSignature };\n`);
    return ((await import(pathToFileURL(file).href)) as { verifyFleetbindSignature: Verify }).verifyFleetbindSignature;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t("the snippet as printed accepts the broker's signature and refuses a wrong secret, a changed body and an old timestamp", async () => {
  const verify = await readmeVerifier();
  const secret = 'whsec-test-secret';
  const body = JSON.stringify({ id: 'e1', type: 'device.bound', time: 1, data: { device: 'esp32-1', agent: '263' } });
  const now = Math.floor(Date.now() / 1000);
  assert.ok(verify(secret, body, signatureHeader(secret, body, now)), "the broker's signature verifies");
  assert.not.ok(verify('another-secret', body, signatureHeader(secret, body, now)), 'a wrong secret');
  assert.not.ok(verify(secret, `${body} `, signatureHeader(secret, body, now)), 'a changed body');
  assert.not.ok(verify(secret, body, signatureHeader(secret, body, now - 600)), 'a timestamp 10 minutes old');
});

t.run();
