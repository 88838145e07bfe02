// Firmware updates end to end (docs/architecture.md, Over-the-air updates): a real broker, a
// simulated fleet of 1,000 devices running the real firmware core with HTTP downloads from the
// broker's signed blob URLs, releases signed with node:crypto as `npm run release -- sign` does.
// Images are small (a few KiB), so the fleet costs CPU for what is tested: the signature check,
// the hashing and the broker's rollout, not bulk transfer (bench/ota measures that).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import * as assert from 'uvu/assert';
import { otaDb } from '../../broker/ota/schema';
import { rawPublicKey } from '../../host-tools/release/keys';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker } from '../helpers/broker';
import { runNpmScript } from '../helpers/npm-script';
import { claim, submit } from '../helpers/jobs';
import { metric } from '../helpers/metrics';
import { connect, end, recorder, subscribe, type Received } from '../helpers/mqtt';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const test = suite('OTA rollouts');
const DEVICES = 1_000;
/** Cumulative waves as the issue of record asks: 10, then 90 more, then the other 900. */
const WAVES = [1, 10, 100];
const release = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const PUB = rawPublicKey(release.publicKey).toString('base64');
const corrupt = new Set<string>();

let tb: TestBroker;
let fleet: SimFleet;
let admin: MqttClient;
let adminSeen: Received[];

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
  // A thousand devices and the broker share this process: starts are spread, and a CONNACK slow
  // under load is waited for rather than retried into a storm.
  tb = await TestBroker.start({ releasePublicKeys: [PUB], otaTickMs: 150, otaAckTimeoutMs: 4_000, graceMs: 1_000 });
  // The test broker listens on an ephemeral port: the address devices download from is known only now.
  tb.ctx.opts.publicUrl = tb.broker.httpUrl;
  const token = await enrollmentToken(tb, DEVICES);
  fleet = startFleet(tb.urlFor(), {
    devices: DEVICES,
    enrollToken: token,
    machinesPrefix: 'OTA',
    rampMs: 20_000,
    core: { connectTimeoutMs: 60_000 },
    ota: { capacity: 1 << 20, releaseKeys: PUB, corrupt: (label) => corrupt.has(label) },
  });
  await fleet.waitFor((s) => s.registered === DEVICES && s.connected === DEVICES, 600_000, 'the fleet enrolled and online');
  admin = await connect(tb.broker.mqttUrl, { clientId: 'admin:ops:ota', username: 'admin:ops', password: tb.adminToken });
  adminSeen = recorder(admin);
  assert.equal(await subscribe(admin, 'fb/v1/admin/alerts'), [0]);
});

test.after(async () => {
  await end(admin);
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
  assert.is((await tb.api('GET', `/api/devices/${fleet.devices[0]!.deviceId}/ota`, undefined, login.body.token)).status, 403);
  assert.equal((await tb.api('GET', '/api/releases')).body, [], 'nothing was stored');
});

const deviceOta = async (device: string): Promise<any> => {
  const r = await tb.api('GET', `/api/devices/${device}/ota`);
  assert.is(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

test('waves 1/10/100 with no failures: every device confirms the new version, in order', async () => {
  const up = await upload(pack('1.1.0', randomBytes(6_000)));
  assert.is(up.status, 201, JSON.stringify(up.body));
  const created = await tb.api('POST', '/api/rollouts', {
    release: '1.1.0',
    target: { model: 'fleetbind-sim' },
    waves: WAVES,
    waveSoakMinutes: 0.01,
    maxFailurePercent: 10,
  });
  assert.is(created.status, 201, JSON.stringify(created.body));
  assert.equal(
    created.body.waves.map((w: any) => w.devices),
    [10, 90, 900],
  );
  // The terminal's live view, redrawn every second until every rollout has ended.
  const following = runNpmScript('fleet', ['rollouts', '--follow', '--broker-api', tb.broker.httpUrl], { FLEETBIND_ADMIN_TOKEN: tb.adminToken });
  // A device of the first wave is sent the command at once; after its `done` ack it restarts and
  // stays `installed` until it says hello as the new version, which takes over a second.
  const first = (
    await otaDb(tb.ctx.db)
      .selectFrom('rollout_devices')
      .select('device')
      .where('rollout', '=', created.body.id)
      .where('wave', '=', 0)
      .orderBy('position')
      .executeTakeFirstOrThrow()
  ).device;
  const before = await deviceOta(first);
  assert.is(before.fw, fleet.devices.find((d) => d.deviceId === first)!.fw, 'the version it said hello with');
  assert.is.not(before.fw, '1.1.0');
  assert.is(before.last, null, 'no update yet');
  const inFlight = await waitUntil(
    async () => ((await deviceOta(first)).pendingFw === '1.1.0' ? deviceOta(first) : undefined),
    60_000,
    `${first} to have 1.1.0 on its way`,
    50,
  );
  assert.is(inFlight.pending.rollout, created.body.id);
  assert.ok(['sent', 'downloading', 'installed'].includes(inFlight.pending.state), inFlight.pending.state);
  const done = await rolloutDone(created.body.id, ['done', 'paused'], 600_000);
  assert.is(done.state, 'done', JSON.stringify(done));
  assert.is(done.counts.confirmed, DEVICES);
  const releases = (await tb.api('GET', '/api/releases')).body;
  assert.is(releases.find((r: any) => r.version === '1.1.0').devices, DEVICES);
  assert.ok(
    fleet.devices.every((d) => d.fw === '1.1.0'),
    'every simulated device runs 1.1.0',
  );
  // Waves went in order: nobody of a later wave was updated before every device of an earlier one settled.
  const rows = await otaDb(tb.ctx.db)
    .selectFrom('rollout_devices')
    .select(['device', 'wave', 'tries'])
    .where('rollout', '=', created.body.id)
    .orderBy('position')
    .execute();
  // A stable random order: devices sorted by sha256(rollout id, device id), cut into the waves in turn.
  const order = (device: string): string => createHash('sha256').update(`${created.body.id}\n${device}`).digest('hex');
  assert.equal(
    rows.map((r) => r.device),
    rows.map((r) => r.device).sort((a, b) => (order(a) < order(b) ? -1 : 1)),
    'ordered by the hash',
  );
  assert.equal(
    rows.map((r) => r.wave),
    [...Array(10).fill(0), ...Array(90).fill(1), ...Array(900).fill(2)],
    'waves are consecutive slices of that order',
  );
  assert.ok(
    rows.every((r) => r.tries === 1),
    'one try each',
  );
  const cli = await runNpmScript('fleet', ['rollouts', '--broker-api', tb.broker.httpUrl], { FLEETBIND_ADMIN_TOKEN: tb.adminToken });
  assert.is(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`${created.body.id}  1\\.1\\.0 +\\[█{30}\\] ${DEVICES}/${DEVICES} confirmed  done`));
  const followed = await following;
  assert.is(followed.code, 0, followed.stderr);
  const frames = followed.stdout.split('\n').filter((l) => l.startsWith(created.body.id));
  assert.ok(frames.length >= 2, `redrawn while it ran: ${frames.length} frame(s)`);
  assert.match(frames[0]!, /\/1000 confirmed.* {2}wave [123]\/3$/, 'the first frame shows a running wave');
  assert.not.match(frames[0]!, /1000\/1000 confirmed/);
  assert.match(frames.at(-1)!, /\[█{30}\] 1000\/1000 confirmed {2}done$/, 'the last frame, when it ended');
  const metrics = await (await fetch(`${tb.broker.httpUrl}/metrics`)).text();
  assert.is(metric(metrics, 'fleetbind_devices_by_firmware', { fw: '1.1.0' }), DEVICES);
  assert.is(metric(metrics, 'fleetbind_ota_outcomes_total', { outcome: 'confirmed' }), DEVICES);
  assert.is(metric(metrics, 'fleetbind_rollouts', { state: 'done' }), 1);
  assert.is(metric(metrics, 'fleetbind_rollouts', { state: 'running' }), 0);
  assert.ok(metric(metrics, 'fleetbind_ota_commands_sent_total') >= DEVICES, 'every command counted');
  const after = await deviceOta(first);
  assert.equal(
    { fw: after.fw, pendingFw: after.pendingFw, pending: after.pending, outcome: after.last.outcome, release: after.last.release, reason: after.last.reason },
    { fw: '1.1.0', pendingFw: null, pending: null, outcome: 'confirmed', release: '1.1.0', reason: null },
  );
  assert.not.ok(
    adminSeen.some((m) => (m.json as any).event === 'rollout'),
    'a rollout that went well raises no alert',
  );
});

test('20 % failures in wave 2 pause the rollout before wave 3; no device of wave 3 gets the command; resume and cancel are audited', async () => {
  const up = await upload(pack('1.2.0', randomBytes(6_000)));
  assert.is(up.status, 201);
  const created = await tb.api('POST', '/api/rollouts', {
    release: '1.2.0',
    target: { all: true },
    waves: WAVES,
    waveSoakMinutes: 0.01,
    maxFailurePercent: 10,
  });
  assert.is(created.status, 201);
  const id = created.body.id as string;
  const db = otaDb(tb.ctx.db);
  const wave2 = await db.selectFrom('rollout_devices').select('device').where('rollout', '=', id).where('wave', '=', 1).orderBy('position').execute();
  const labels = new Map(fleet.devices.map((d) => [d.deviceId, d.label]));
  for (const d of wave2.slice(0, Math.ceil(wave2.length * 0.2))) corrupt.add(labels.get(d.device)!);
  const paused = await rolloutDone(id, ['paused', 'done'], 300_000);
  assert.is(paused.state, 'paused');
  assert.is(paused.wave, 1);
  assert.match(paused.reason, /^wave 2: \d+ of 90 devices failed/);
  const metrics = await (await fetch(`${tb.broker.httpUrl}/metrics`)).text();
  assert.is(metric(metrics, 'fleetbind_rollout_auto_pauses_total'), 1);
  assert.is(metric(metrics, 'fleetbind_rollouts', { state: 'paused' }), 1);
  assert.ok(metric(metrics, 'fleetbind_ota_outcomes_total', { outcome: 'failed' }) >= 1, 'the failures counted');
  const wave3 = await db.selectFrom('rollout_devices').select(['device', 'state', 'tries']).where('rollout', '=', id).where('wave', '=', 2).execute();
  assert.ok(wave3.length === 900 && wave3.every((r) => r.state === 'pending' && r.tries === 0), 'wave 3 untouched');
  // Admins are told over MQTT as it happens.
  const alert = await waitUntil(
    () => adminSeen.map((m) => m.json as any).find((j) => j.event === 'rollout' && j.rollout === id),
    10_000,
    'the rollout alert on fb/v1/admin/alerts',
  );
  assert.is(alert.kind, 'rollout-paused');
  assert.is(alert.release, '1.2.0');
  assert.is(alert.wave, 1);
  assert.ok(alert.failed >= 1 && alert.failed <= wave2.length, JSON.stringify(alert));
  assert.match(alert.message, /paused itself: wave 2: /);
  // A corrupted device says why its update failed; it still runs the old version.
  const broken = wave2.find((d) => corrupt.has(labels.get(d.device)!))!.device;
  const failed = await deviceOta(broken);
  assert.is(failed.fw, '1.1.0');
  assert.is(failed.pendingFw, null);
  assert.is(failed.last.outcome, 'failed');
  assert.is(failed.last.release, '1.2.0');
  assert.match(failed.last.reason, /^HASH_MISMATCH/);
  assert.is((await tb.api('GET', '/api/devices/nosuchdevice0/ota')).status, 404);
  for (const r of wave3) {
    const sim = fleet.devices.find((d) => d.deviceId === r.device)!;
    assert.is(sim.fw, '1.1.0', `${r.device} still runs 1.1.0`);
  }
  const audit = (await tb.api('GET', '/api/audit?action=rollout.paused')).body;
  assert.ok(
    audit.some((a: any) => a.actor === 'system:ota' && a.detail.rollout === id),
    'the auto-pause is in the audit log',
  );
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
  const created = await tb.api('POST', '/api/rollouts', {
    release: '1.3.0',
    target: { devices: [held.deviceId, fleet.devices[1]!.deviceId] },
    waves: [100],
    waveSoakMinutes: 0,
    maxFailurePercent: 50,
  });
  assert.is(created.status, 201);
  const id = created.body.id as string;
  const row = () =>
    otaDb(tb.ctx.db).selectFrom('rollout_devices').selectAll().where('rollout', '=', id).where('device', '=', held.deviceId!).executeTakeFirstOrThrow();
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

test('a send window: a rollout outside its window sends nothing while one inside it runs to the end', async () => {
  const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
  const now = Date.now();
  assert.is((await upload(pack('1.4.0', randomBytes(5_000)))).status, 201);
  const [outside, inside] = [fleet.devices[2]!, fleet.devices[3]!];
  const bad = await tb.api('POST', '/api/rollouts', {
    release: '1.4.0',
    target: { devices: [outside.deviceId] },
    window: { start: '01:00', end: '02:00', timeZone: 'Mars/Olympus' },
  });
  assert.is(bad.status, 400);
  assert.is(bad.body.error.field, 'window');
  const later = await tb.api('POST', '/api/rollouts', {
    release: '1.4.0',
    target: { devices: [outside.deviceId] },
    waves: [100],
    waveSoakMinutes: 0,
    maxFailurePercent: 50,
    window: { start: hhmm(now + 6 * 3600_000), end: hhmm(now + 7 * 3600_000) },
  });
  assert.is(later.status, 201, JSON.stringify(later.body));
  assert.equal(later.body.window, { start: hhmm(now + 6 * 3600_000), end: hhmm(now + 7 * 3600_000), timeZone: 'UTC' });
  const open = await tb.api('POST', '/api/rollouts', {
    release: '1.4.0',
    target: { devices: [inside.deviceId] },
    waves: [100],
    waveSoakMinutes: 0,
    maxFailurePercent: 50,
    window: { start: hhmm(now - 3600_000), end: hhmm(now + 3600_000) },
  });
  assert.is(open.status, 201, JSON.stringify(open.body));
  // Both are driven in the same ticks: by the time the open one is done, the other had its chances.
  const done = await rolloutDone(open.body.id, ['done'], 60_000);
  assert.is(done.counts.confirmed, 1);
  // A device that restarted is a new object in the fleet's list.
  assert.is(fleet.devices[3]!.fw, '1.4.0');
  const waiting = (await tb.api('GET', `/api/rollouts/${later.body.id}`)).body;
  assert.is(waiting.state, 'running');
  assert.is(waiting.counts.pending, 1, JSON.stringify(waiting.counts));
  const row = await otaDb(tb.ctx.db).selectFrom('rollout_devices').select(['tries', 'sends']).where('rollout', '=', later.body.id).executeTakeFirstOrThrow();
  assert.equal(row, { tries: 0, sends: 0 }, 'nothing sent outside the window');
  assert.is.not(fleet.devices[2]!.fw, '1.4.0');
  assert.is((await tb.api('POST', `/api/rollouts/${later.body.id}/cancel`, { reason: 'window test over' })).status, 200);
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
