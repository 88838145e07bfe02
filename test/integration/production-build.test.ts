// Production: `npm run build` compiles the broker to plain JavaScript, the `fleetbind` bin runs it
// without tsx, and the hardened systemd unit in deploy/ passes systemd-analyze verify.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { runNpmScript } from '../helpers/npm-script';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';

const t = suite('production build');
const root = join(import.meta.dirname, '..', '..');

t('npm run build writes the broker as JavaScript; the fleetbind bin serves without tsx and stops on SIGTERM', async () => {
  const built = await runNpmScript('build', []);
  assert.is(built.code, 0, built.stderr);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = join(root, pkg.bin.fleetbind!);
  accessSync(bin, constants.X_OK);
  assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);

  const data = mkdtempSync(join(tmpdir(), 'fleetbind-prod-'));
  // Straight from the bin: no --import tsx, so nothing is transpiled at start.
  const child = spawn(bin, ['--data-dir', data, '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0'], {
    cwd: tmpdir(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  try {
    const listening = await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`the built broker exited ${child.exitCode}:\n${stderr}`);
        const line = stdout.split('\n').find((l) => l.includes('"msg":"listening"'));
        return line ? (JSON.parse(line) as { httpPort: number }) : undefined;
      },
      30_000,
      'the built broker to listen',
    );
    const health = await fetch(`http://127.0.0.1:${listening.httpPort}/healthz`);
    assert.is(health.status, 200);
    const page = await fetch(`http://127.0.0.1:${listening.httpPort}/`);
    assert.is(page.status, 200, 'the web app is served from the built broker');
    assert.match(stderr, /fleetbind is running/);
  } finally {
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (c) => resolve(c))));
    rmSync(data, { recursive: true, force: true });
    assert.is(code, 0, stderr);
  }
});

t('deploy/fleetbind.service passes systemd-analyze verify, which does catch a broken unit', () => {
  requireTool('systemd-analyze', 'systemd');
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-unit-'));
  try {
    const unit = join(dir, 'fleetbind.service');
    copyFileSync(join(root, 'deploy', 'fleetbind.service'), unit);
    const ok = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.is(ok.status, 0, ok.stderr);
    // verify exits 0 on ignored settings too; it names the unit file on each line it objects to.
    assert.is(
      `${ok.stdout}${ok.stderr}`
        .split('\n')
        .filter((l) => l.includes('fleetbind.service'))
        .join('\n'),
      '',
    );
    const text = readFileSync(unit, 'utf8');
    assert.match(text, /^ProtectSystem=strict$/m);
    assert.match(text, /^NoNewPrivileges=true$/m);
    assert.match(text, /^ExecStart=\/usr\/bin\/node \/opt\/fleetbind\/dist\/broker\/main\.js$/m);
    writeFileSync(unit, text.replace('NoNewPrivileges=true', 'NoNewPrivilege=true'));
    const broken = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.match(`${broken.stdout}${broken.stderr}`, /fleetbind\.service:\d+: Unknown key 'NoNewPrivilege'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
