// `npm run fleet -- audit --follow` as a child process against a live broker: it prints the
// latest entries, then each new one as the broker writes it (filters apply), and Ctrl-C ends it
// cleanly with exit 0.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import { waitUntil } from '../helpers/wait';

const root = join(import.meta.dirname, '..', '..');

function follow(broker: TestBroker, args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'host-tools/fleet/cli.ts', 'audit', '--follow', ...args, '--broker-api', broker.broker.httpUrl], {
    cwd: root,
    env: { ...process.env, FLEETBIND_ADMIN_TOKEN: broker.adminToken, FLEETBIND_FOLLOW_POLL_MS: '200' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out, exited };
}

const t = suite<{ broker: TestBroker }>('fleet audit --follow');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

t('prints the latest entries, then each new one live; Ctrl-C exits 0', async ({ broker }) => {
  await broker.createAgent('before-follow');
  const f = follow(broker, []);
  try {
    await waitUntil(() => f.out.stdout.includes('agent.created  agent=before-follow'), 20_000, 'the existing entry first');
    await broker.createAgent('during-follow-1');
    await broker.createAgent('during-follow-2');
    await waitUntil(() => f.out.stdout.includes('agent=during-follow-2'), 20_000, 'the new entries live');
    const lines = f.out.stdout.trim().split('\n');
    const seqs = lines.map((l) => Number(l.split(/\s+/)[0]));
    assert.equal(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'oldest first, in order',
    );
    assert.is(new Set(seqs).size, seqs.length, 'no entry twice');
    assert.ok(lines.findIndex((l) => l.includes('during-follow-1')) < lines.findIndex((l) => l.includes('during-follow-2')));
  } finally {
    f.child.kill('SIGINT');
  }
  assert.is(await f.exited, 0, f.out.stderr);
  assert.is(f.out.stderr, '');
});

t('--json prints one object a line; --action filters the live entries too', async ({ broker }) => {
  const f = follow(broker, ['--action', 'agent.created', '--json']);
  try {
    await waitUntil(() => f.out.stdout.includes('"before-follow"'), 20_000, 'the backlog');
    const dev = await broker.provision();
    await broker.createAgent('json-follow');
    await waitUntil(() => f.out.stdout.includes('"json-follow"'), 20_000, 'the new agent');
    const rows = f.out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; device: string | null });
    assert.ok(
      rows.every((r) => r.action === 'agent.created'),
      JSON.stringify(rows),
    );
    assert.not.ok(f.out.stdout.includes(dev.id), 'the device.registered entry is filtered out');
  } finally {
    f.child.kill('SIGINT');
  }
  assert.is(await f.exited, 0, f.out.stderr);
});

t('--follow on a command that cannot follow is a usage error', async ({ broker }) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'host-tools/fleet/cli.ts', 'devices', '--follow', '--broker-api', broker.broker.httpUrl], {
    cwd: root,
    env: { ...process.env, FLEETBIND_ADMIN_TOKEN: broker.adminToken },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 2);
  assert.match(stderr, /--follow is not an option of "devices"/);
});

t.run();
