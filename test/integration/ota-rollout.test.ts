// Firmware updates end to end (docs/architecture.md, Over-the-air updates): a real broker, a
// simulated fleet running the real firmware core with HTTP downloads from the broker's signed
// blob URLs, releases signed with node:crypto as `npm run release -- sign` does.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as assert from 'uvu/assert';
import { otaDb } from '../../broker/ota/schema';
import { rawPublicKey } from '../../host-tools/release/keys';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker } from '../helpers/broker';
import { runNpmScript } from '../helpers/npm-script';
import { claim, submit } from '../helpers/jobs';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const test = suite('OTA rollouts');
const DEVICES = 60;
const release = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const PUB = rawPublicKey(release.publicKey).toString('base64');
const corrupt = new Set<string>();

let tb: TestBroker;
let fleet: SimFleet;

function pack(version: string, image: Buffer, key: KeyObject = release.privateKey): { manifest: string; sig: string; image: Buffer } {
  const manifest = JSON.stringify({ version, models: ['fleetbind-sim'], size: image.length, sha256: createHash('sha256').update(image).digest('hex') });
  return { manifest, sig: sign(null, Buffer.from(manifest), key).toString('base64'), image };
}

async function upload(r: { manifest?: string; sig?: string; image: Buffer }, token = tb.adminToken): Promise<{ status: number; body: any }> {
  const form = new FormData();
  if (r.manifest !== undefined) form.append('manifest', r.manifest);
  if (r.sig !== undefined) form.append('sig', r.sig);
  form.append('image', new Blob([new Uint8Array(r.image)]), 'app.bin');
  const res = await fetch(`${tb.broker.httpUrl}/api/releases`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

async function rolloutDone(id: string, states: string[], timeoutMs: number): Promise<any> {
  let last: unknown;
  return waitUntil(
    async () => {
      const r = await tb.api('GET', `/api/rollouts/${id}`);
      last = r.body;
      return states.includes(r.body.state) ? r.body : undefined;
    },
    timeoutMs,
    () => `rollout ${id} to reach ${states.join('/')}: ${JSON.stringify(last)}`,
    100,
  );
}

test.before(async () => {
  tb = await TestBroker.start({ releasePublicKeys: [PUB], otaTickMs: 150, otaAckTimeoutMs: 4_000, graceMs: 1_000 });
  // The test broker listens on an ephemeral port: the address devices download from is known only now.
  tb.ctx.opts.publicUrl = tb.broker.httpUrl;
  const token = await enrollmentToken(tb, DEVICES);
  fleet = startFleet(tb.urlFor(), { devices: DEVICES, enrollToken: token, machinesPrefix: 'OTA', ota: { capacity: 1 << 20, releaseKeys: PUB, corrupt: (label) => corrupt.has(label) } });
  await fleet.waitFor((s) => s.registered === DEVICES && s.connected === DEVICES, 60_000, 'the fleet enrolled and online');
});

test.after(async () => {
  fleet?.stop();
  await tb?.stop();
});

test('an unsigned, wrongly signed or mismatched release is refused at upload; an agent can neither upload nor roll out', async () => {
  const image = randomBytes(20_000);
  const unsigned = await upload({ manifest: pack('0.9.0', image).manifest, image });
  assert.is(unsigned.status, 403);
  assert.is(unsigned.body.error.code, 'BAD_SIGNATURE');
  const wrong = await upload(pack('0.9.0', image, stranger.privateKey));
  assert.is(wrong.status, 403);
  assert.is(wrong.body.error.code, 'BAD_SIGNATURE');
  const swapped = await upload({ ...pack('0.9.0', image), image: randomBytes(20_000) });
  assert.is(swapped.status, 400);
  assert.is(swapped.body.error.field, 'image');
  const agent = await tb.createAgent('ota-agent');
  const login = await tb.api('POST', '/api/login', { id: agent.id, password: agent.password }, undefined);
  const asAgent = await upload(pack('0.9.0', image), login.body.token);
  assert.is(asAgent.status, 403);
  const rollout = await tb.api('POST', '/api/rollouts', { release: '0.9.0', target: { all: true } }, login.body.token);
  assert.is(rollout.status, 403);
  assert.equal((await tb.api('GET', '/api/releases')).body, [], 'nothing was stored');
});

test('waves 10/50/100 with no failures: every device confirms the new version, in order', async () => {
  const up = await upload(pack('1.1.0', randomBytes(150_000)));
  assert.is(up.status, 201, JSON.stringify(up.body));
  const created = await tb.api('POST', '/api/rollouts', { release: '1.1.0', target: { model: 'fleetbind-sim' }, waves: [10, 50, 100], waveSoakMinutes: 0.01, maxFailurePercent: 10 });
  assert.is(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.waves.map((w: any) => w.devices), [6, 24, 30]);
  const done = await rolloutDone(created.body.id, ['done', 'paused'], 120_000);
  assert.is(done.state, 'done', JSON.stringify(done));
  assert.is(done.counts.confirmed, DEVICES);
  const releases = (await tb.api('GET', '/api/releases')).body;
  assert.is(releases.find((r: any) => r.version === '1.1.0').devices, DEVICES);
  assert.ok(fleet.devices.every((d) => d.fw === '1.1.0'), 'every simulated device runs 1.1.0');
  // Waves went in order: nobody of a later wave was updated before every device of an earlier one settled.
  const rows = await otaDb(tb.ctx.db).selectFrom('rollout_devices').select(['wave', 'tries']).where('rollout', '=', created.body.id).execute();
  assert.ok(rows.every((r) => r.tries === 1), 'one try each');
  const cli = await runNpmScript('fleet', ['rollouts', '--broker-api', tb.broker.httpUrl], { FLEETBIND_ADMIN_TOKEN: tb.adminToken });
  assert.is(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`${created.body.id}  1\\.1\\.0 +\\[█{30}\\] ${DEVICES}/${DEVICES} confirmed  done`));
});

test('20 % failures in wave 2 pause the rollout before wave 3; no device of wave 3 gets the command; resume and cancel are audited', async () => {
  const up = await upload(pack('1.2.0', randomBytes(100_000)));
  assert.is(up.status, 201);
  const created = await tb.api('POST', '/api/rollouts', { release: '1.2.0', target: { all: true }, waves: [10, 50, 100], waveSoakMinutes: 0.01, maxFailurePercent: 10 });
  assert.is(created.status, 201);
  const id = created.body.id as string;
  const db = otaDb(tb.ctx.db);
  const wave2 = await db.selectFrom('rollout_devices').select('device').where('rollout', '=', id).where('wave', '=', 1).orderBy('position').execute();
  const labels = new Map(fleet.devices.map((d) => [d.deviceId, d.label]));
  for (const d of wave2.slice(0, Math.ceil(wave2.length * 0.2))) corrupt.add(labels.get(d.device)!);
  const paused = await rolloutDone(id, ['paused', 'done'], 120_000);
  assert.is(paused.state, 'paused');
  assert.is(paused.wave, 1);
  assert.match(paused.reason, /^wave 2: \d+ of 24 devices failed/);
  const wave3 = await db.selectFrom('rollout_devices').select(['device', 'state', 'tries']).where('rollout', '=', id).where('wave', '=', 2).execute();
  assert.ok(wave3.length === 30 && wave3.every((r) => r.state === 'pending' && r.tries === 0), 'wave 3 untouched');
  for (const r of wave3) {
    const sim = fleet.devices.find((d) => d.deviceId === r.device)!;
    assert.is(sim.fw, '1.1.0', `${r.device} still runs 1.1.0`);
  }
  const audit = (await tb.api('GET', '/api/audit?action=rollout.paused')).body;
  assert.ok(audit.some((a: any) => a.actor === 'system:ota' && a.detail.rollout === id), 'the auto-pause is in the audit log');
  const cancel = await tb.api('POST', `/api/rollouts/${id}/cancel`, { reason: 'bad build' });
  assert.is(cancel.status, 200);
  assert.is(cancel.body.state, 'cancelled');
  const again = await tb.api('POST', `/api/rollouts/${id}/resume`, {});
  assert.is(again.status, 409);
  corrupt.clear();
});

test('a device holding a payment QR is not updated until the hold ends', async () => {
  const agent = await tb.agent('ota-payer');
  const held = fleet.devices[0]!;
  await claim(agent, held.deviceId!);
  const job = await submit(agent, { device: held.deviceId, kind: 'qr.show', params: { text: 'https://pay.example/ota', caption: 'Pay', hold: true } });
  assert.ok(job.ok, JSON.stringify(job));
  await waitUntil(() => held.state === 'busy', 10_000, 'the device shows the held QR');
  const before = held.fw;
  assert.is((await upload(pack('1.3.0', randomBytes(50_000)))).status, 201);
  const created = await tb.api('POST', '/api/rollouts', { release: '1.3.0', target: { devices: [held.deviceId, fleet.devices[1]!.deviceId] }, waves: [100], waveSoakMinutes: 0, maxFailurePercent: 50 });
  assert.is(created.status, 201);
  const id = created.body.id as string;
  const row = () => otaDb(tb.ctx.db).selectFrom('rollout_devices').selectAll().where('rollout', '=', id).where('device', '=', held.deviceId!).executeTakeFirstOrThrow();
  await waitUntil(async () => (await tb.api('GET', `/api/rollouts/${id}`)).body.counts.confirmed === 1, 60_000, 'the idle device confirms', 100);
  assert.is((await row()).state, 'skipped-busy');
  assert.is((await row()).tries, 0, 'never sent while held');
  assert.is(held.fw, before);
  const paid = await tb.api('POST', `/api/jobs/${job.result.job}/complete`, {});
  assert.is(paid.status, 200, JSON.stringify(paid.body));
  const done = await rolloutDone(id, ['done'], 60_000);
  assert.is(done.counts.confirmed, 2);
  assert.is(fleet.devices[0]!.fw, '1.3.0');
});

test('the image URL in a command is signed and expires: altered or without signature it is refused', async () => {
  const r = (await tb.api('GET', '/api/releases')).body.find((x: any) => x.version === '1.3.0');
  const path = tb.ctx.blobUrls.path(r.sha256, 60_000);
  assert.is((await fetch(`${tb.broker.httpUrl}${path}`)).status, 200);
  assert.is((await fetch(`${tb.broker.httpUrl}/api/blobs/${r.sha256}`)).status, 403);
  assert.is((await fetch(`${tb.broker.httpUrl}${path.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 3600}`)}`)).status, 403);
  const expired = await fetch(`${tb.broker.httpUrl}${tb.ctx.blobUrls.path(r.sha256, -1_000)}`);
  assert.is(expired.status, 410);
  assert.is(((await expired.json()) as any).error.code, 'LINK_EXPIRED');
});

test.run();
