// Firmware updates on the real Moddable lin build (docs/architecture.md, Over-the-air updates):
// three images of the real firmware built with build:firmware, released with the real release
// tooling over the build output, run in the SDK's mcsim against a real broker. 1.0.0 takes 1.1.0,
// which starts on trial in the lin model of the bootloader (platform/lin/ota-trial.c) and
// confirms; then 1.2.0, an image that gives up before it reaches the broker, rolls back to 1.1.0,
// which reports why. Run by hand (`npm run test:lin`) where $MODDABLE points at an SDK with its
// lin host tools built and xvfb-run exists: no such SDK can be installed by CI, so `npm test`
// does not include it (it runs the simulated paths: ota-rollout, xs/ota, and the bootloader
// model alone in ota-model.test.ts); without one it fails with the reason.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rawPublicKey } from '../../host-tools/release/keys';
import { TestBroker } from '../helpers/broker';
import { connect, end, recorder, subscribe } from '../helpers/mqtt';
import { runNpmScript } from '../helpers/npm-script';
import { enrollmentToken } from '../helpers/sim';
import { hasTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';

const moddable = process.env.MODDABLE;
const mcsim = moddable === undefined ? '' : join(moddable, 'build', 'bin', 'lin', 'release', 'mcsim');
const missing =
  moddable === undefined
    ? '$MODDABLE is not set'
    : !existsSync(mcsim)
      ? `${mcsim} is not built (cd $MODDABLE/build/makefiles/lin && make, with $MODDABLE/build/bin/lin/release on PATH)`
      : !hasTool('xvfb-run')
        ? 'xvfb-run is not installed'
        : null;

if (missing !== null) {
  console.error(`lin OTA: cannot run on the real Moddable lin build: ${missing}`);
  process.exit(1);
} else {
  const test = suite('OTA on the real lin build');
  // The lin Preference module keeps every app's preferences in this one file.
  const PREFS = '/tmp/modpreferences.json';
  const tmp = mkdtempSync(join(tmpdir(), 'fleetbind-lin-ota-'));
  const otaDir = join(tmp, 'ota');
  const keyFile = join(tmp, 'release.key');
  const lines: string[] = [];
  let device: ChildProcess | null = null;
  let tb: TestBroker | null = null;
  const savedPrefs = existsSync(PREFS) ? readFileSync(PREFS) : null;

  // Kept between runs: after the first, each image is an incremental build of a few seconds.
  const out = join(tmpdir(), 'fleetbind-lin-ota-build');

  // What a run saw, printed at the end: the record of a run on a real SDK (README, lin section).
  const seen: string[] = [];
  const since = (start: number): string => `${((Date.now() - start) / 1000).toFixed(1)} s`;

  async function build(version: string, trialMs: number): Promise<string> {
    const start = Date.now();
    const b = await runNpmScript('build:firmware', ['--target', 'lin', '--out', out, '--fw', version, '--config', `otaTrialMs=${trialMs}`]);
    assert.is(b.code, 0, b.stdout + b.stderr);
    const image = join(tmp, `${version}.so`);
    copyFileSync(join(out, 'bin', 'lin', 'mc', 'release', 'fleetbind', 'mc.so'), image);
    seen.push(`built ${version} (otaTrialMs=${trialMs}): mc.so ${statSync(image).size} bytes in ${since(start)}`);
    return image;
  }

  async function release(version: string, image: string): Promise<void> {
    const dir = join(tmp, `release-${version}`);
    const packed = await runNpmScript('release', ['pack', '--image', image, '--version', version, '--model', 'lin', '--out', dir]);
    assert.is(packed.code, 0, packed.stderr);
    assert.is((await runNpmScript('release', ['sign', '--dir', dir, '--key', keyFile])).code, 0);
    const form = new FormData();
    form.append('manifest', readFileSync(join(dir, 'manifest.json'), 'utf8'));
    form.append('sig', readFileSync(join(dir, 'manifest.sig'), 'utf8'));
    form.append('image', new Blob([new Uint8Array(readFileSync(join(dir, 'app.bin')))]), 'app.bin');
    const res = await fetch(`${tb!.broker.httpUrl}/api/releases`, { method: 'POST', body: form, headers: { authorization: `Bearer ${tb!.adminToken}` } });
    assert.is(res.status, 201, await res.text());
  }

  async function rollout(version: string, deviceId: string, states: string[]): Promise<any> {
    const start = Date.now();
    const created = await tb!.api('POST', '/api/rollouts', {
      release: version,
      target: { devices: [deviceId] },
      waves: [100],
      waveSoakMinutes: 0,
      maxFailurePercent: 50,
    });
    assert.is(created.status, 201, JSON.stringify(created.body));
    let last: unknown;
    const ended = (await waitUntil(
      async () => {
        last = (await tb!.api('GET', `/api/rollouts/${created.body.id}`)).body;
        return states.includes((last as { state: string }).state) ? last : undefined;
      },
      300_000,
      () => `rollout of ${version} to reach ${states.join('/')}: ${JSON.stringify(last)}\n${lines.slice(-20).join('\n')}`,
      500,
    )) as { state: string; counts: Record<string, number> };
    seen.push(`rollout of ${version}: ${ended.state} in ${since(start)}, counts ${JSON.stringify(ended.counts)}`);
    return ended;
  }

  const logged = (text: string, timeoutMs = 120_000): Promise<string> =>
    waitUntil(
      () => lines.find((l) => l.includes(text)),
      timeoutMs,
      () => `the device to log ${text}; it logged:\n${lines.slice(-20).join('\n')}`,
      100,
    );

  const otadata = (): string => readFileSync(join(otaDir, 'otadata'), 'utf8');

  test.after(async () => {
    if (device?.pid !== undefined) {
      try {
        process.kill(-device.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    await tb?.stop();
    if (savedPrefs === null) rmSync(PREFS, { force: true });
    else writeFileSync(PREFS, savedPrefs);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('1.0.0 takes 1.1.0 on trial and confirms it; 1.2.0 never reaches the broker and the bootloader model brings 1.1.0 back', async () => {
    const v100 = await build('1.0.0', 60_000);
    const v110 = await build('1.1.0', 60_000);
    // An image that gives up on itself at once: it cannot have reached the broker within 1 ms.
    const v120 = await build('1.2.0', 1);
    const keys = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const pub = rawPublicKey(keys.publicKey).toString('base64');

    tb = await TestBroker.start({ releasePublicKeys: [pub], otaTickMs: 200, otaAckTimeoutMs: 120_000 });
    tb.ctx.opts.publicUrl = tb.broker.httpUrl;
    await release('1.1.0', v110);
    await release('1.2.0', v120);
    const admin = await connect(tb.broker.mqttUrl, { clientId: 'admin:ops:lin-ota', username: 'admin:ops', password: tb.adminToken });
    const alerts = recorder(admin);
    assert.equal(await subscribe(admin, 'fb/v1/admin/alerts'), [0]);
    writeFileSync(PREFS, JSON.stringify({ fb: { ssid: 'lab', broker: tb.broker.mqttUrl, insecure: '1', enroll: await enrollmentToken(tb, 1), otakey: pub } }));

    device = spawn('xvfb-run', ['-a', 'stdbuf', '-o0', mcsim, v100], {
      env: { ...process.env, FLEETBIND_OTA_DIR: otaDir },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [device.stdout!, device.stderr!])
      stream.on('data', (d: Buffer) =>
        lines.push(
          ...d
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        ),
      );
    const enrolled = await logged('enrolled deviceId=');
    const deviceId = /deviceId="([^"]+)"/.exec(enrolled)![1]!;
    await logged('online deviceId=');

    const confirmed = await rollout('1.1.0', deviceId, ['done', 'paused']);
    assert.is(confirmed.state, 'done', JSON.stringify(confirmed));
    assert.is(confirmed.counts.confirmed, 1);
    await logged('running a new image on trial version="1.1.0"');
    assert.match(otadata(), /^boot 1\nrunning 1\nslot0 valid .*1\.0\.0\.so\nslot1 valid .*slot1\.so\n$/);
    const after = (await tb.api('GET', `/api/devices/${deviceId}/ota`)).body;
    assert.equal([after.fw, after.last.outcome, after.last.release], ['1.1.0', 'confirmed', '1.1.0']);

    const rolledBack = await rollout('1.2.0', deviceId, ['done', 'paused']);
    assert.is(rolledBack.state, 'paused', JSON.stringify(rolledBack));
    assert.is(rolledBack.counts['rolled-back'], 1);
    await logged('giving up on the new image; rolling back version="1.2.0"');
    assert.match(otadata(), /^boot 1\nrunning 1\nslot0 invalid .*slot0\.so\nslot1 valid .*slot1\.so\n$/);
    const back = (await tb.api('GET', `/api/devices/${deviceId}/ota`)).body;
    assert.equal([back.fw, back.pendingFw, back.last.outcome, back.last.release], ['1.1.0', null, 'rolled-back', '1.2.0']);
    assert.match(back.last.reason, /did not reach the broker/);
    const alert = await waitUntil(
      () => alerts.map((m) => m.json as any).find((j) => j.event === 'rollout' && j.kind === 'rollout-paused'),
      10_000,
      'the rollout-paused alert',
    );
    assert.is(alert.rolledBack, 1);
    await end(admin);
    seen.push(`otadata at the end:\n    ${otadata().trimEnd().split('\n').join('\n    ')}`);
    seen.push(`the device's OTA log lines:\n    ${lines.filter((l) => /update|trial|rolling back|restart/i.test(l)).join('\n    ')}`);
    console.log(`lin OTA on ${mcsim}:\n  ${seen.join('\n  ')}`);
  });

  test.run();
}
