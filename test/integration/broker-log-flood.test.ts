// An unauthenticated client must not fill the broker's log (docs/architecture.md, Identities):
// a refused CONNECT logs its username and client id clipped, and repeated warnings from one
// source are limited, so a flood of refusals yields a bounded number of log lines per second.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BrokerProcess } from '../helpers/broker-process';
import { connectRefused } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

const t = suite('log flood');

t('200 refused CONNECTs with 6 KB usernames write few, short log lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-logflood-'));
  const p = await BrokerProcess.start(dir, randomBytes(24).toString('hex'));
  try {
    // Under the pre-CONNACK packet limit, so each one reaches authentication and is refused there.
    const huge = 'u'.repeat(6_000);
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      await connectRefused(p.mqttUrl, { clientId: `esp32-${randomBytes(6).toString('hex')}`, username: `${huge}${i}`, password: 'wrong' });
    }
    // The count of left-out lines rides on the next line logged in a later second: a fast flood can
    // fit in one second, so one more refusal comes after it.
    await new Promise((r) => setTimeout(r, 1_100));
    const lastAt = Date.now();
    await connectRefused(p.mqttUrl, { clientId: `esp32-${randomBytes(6).toString('hex')}`, username: `${huge}last`, password: 'wrong' });
    const seconds = Math.max(1, Math.ceil((Date.now() - started) / 1000));
    // The broker writes its log asynchronously: the last refusal's line is the barrier, since every
    // earlier line came before it on the same pipe.
    const refused = (): Record<string, unknown>[] => p.logLines().filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('mqtt connect'));
    const refusals = await waitUntil(
      () => {
        const lines = refused();
        return lines.some((l) => (l.time as number) >= lastAt) && lines;
      },
      5000,
      () => `the last refusal logged; ${refused().length} refusal lines so far`,
    );
    // Two per source address and twenty in all per second (warn-limit.ts), plus one second of slack.
    assert.ok(refusals.length <= 2 * (seconds + 1), `${refusals.length} refusal lines in ${seconds} s`);
    const longest = Math.max(...p.stdout.split('\n').map((l) => l.length));
    assert.ok(longest < 2_000, `the longest log line is ${longest} characters`);
    assert.ok(
      refusals.some((l) => typeof l.suppressed === 'number' && (l.suppressed as number) > 0) || refusals.length === 200,
      'a later line says how many were left out',
    );
  } finally {
    await p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
