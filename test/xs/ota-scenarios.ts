// The device's update path, written once and run on Node and inside the real XS engine
// (ota.test.ts): Ed25519 before download, hashing while writing, Range resume, the trial after
// the restart and the rollback, and every refusal. The test plays the image server and signs
// releases with node:crypto, the same signer as `npm run release -- sign`.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as assert from 'uvu/assert';
import { parseHello } from '../../protocol/messages';
import type { ReleaseManifest } from '../../protocol/ota';
import { deviceTopic } from '../../protocol/topics';
import type { PrefKey } from '../../firmware/core/platform';
import { DEVICE, type Peer } from './harness/peer';
import type { BootEvent } from './harness/wire';

export type OtaScenario = (peer: Peer, restart: () => Promise<Peer>) => Promise<void>;

const MODEL = 'moddable_two';
const TRIAL_MS = 120_000;
const URL = 'http://broker.local:8080/blobs/abc?exp=1&sig=x';
const CHUNK = 1_000;

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject; raw: string } {
  const pair = generateKeyPairSync('ed25519');
  const raw = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
  return { ...pair, raw };
}
const RELEASE = keyPair();
const OTHER = keyPair();

/** A deterministic image; no two chunks alike, so a resume from the wrong offset shows in the hash. */
export function image(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Release {
  bytes: Uint8Array;
  params: { url: string; size: number; sha256: string; manifest: string; sig: string };
}

function release(over: Partial<ReleaseManifest> = {}, opts: { key?: KeyObject; bytes?: Uint8Array } = {}): Release {
  const bytes = opts.bytes ?? image(10_000);
  const manifest = JSON.stringify({ version: '0.2.0', models: [MODEL], size: bytes.length, sha256: sha256(bytes), ...over });
  const sig = sign(null, Buffer.from(manifest), opts.key ?? RELEASE.privateKey).toString('base64');
  return { bytes, params: { url: URL, size: bytes.length, sha256: sha256(bytes), manifest, sig } };
}

function bootWith(prefs: Partial<Record<PrefKey, string>>, over: Partial<BootEvent> = {}): Partial<BootEvent> {
  return {
    prefs: { ssid: 'lab', broker: 'mqtt://broker.local:1884', insecure: '1', id: DEVICE, secret: 'k3y-5ecret-0123456789abcdef', otakey: RELEASE.raw, ...prefs },
    facts: { mac: 'A4:CF:12:B4:C9:E0', model: MODEL, fw: '0.1.0', caps: ['qr.show', 'identify', 'ota'], boot: 7 },
    ota: { capacity: 64 * 1024, onTrial: false },
    options: { otaTrialMs: TRIAL_MS },
    ...over,
  };
}

async function onlineDevice(peer: Peer, prefs: Partial<Record<PrefKey, string>> = {}, over: Partial<BootEvent> = {}): Promise<void> {
  await peer.boot(bootWith(prefs, over));
  await peer.online();
  peer.fresh();
}

/** Serves bytes [from, to) of the image as the server would, in CHUNK-sized pieces. */
async function serve(peer: Peer, bytes: Uint8Array, from: number, to: number, status = from === 0 ? 200 : 206): Promise<void> {
  await peer.send({ type: 'ota.status', status });
  for (let at = from; at < to; at += CHUNK) await peer.send({ type: 'ota.data', data: hex(bytes.subarray(at, Math.min(to, at + CHUNK))) });
}

/** Installs a release end to end and returns the prefs the next boot starts with. */
async function install(peer: Peer, r: Release, job = 'ota-1'): Promise<Partial<Record<PrefKey, string>>> {
  await peer.cmd(job, 'ota', r.params);
  await serve(peer, r.bytes, 0, r.bytes.length);
  await peer.send({ type: 'ota.end' });
  await peer.advance(1_000);
  assert.is(peer.of('ota.restart').length, 1, 'restarts into the new image');
  return (await peer.stats()).prefs;
}

function lastHello(peer: Peer): ReturnType<typeof parseHello> {
  const hellos = peer.published('hello');
  assert.ok(hellos.length > 0, 'a hello was published');
  return parseHello(JSON.parse(hellos.at(-1)!.payload));
}

export const otaScenarios: Record<string, OtaScenario> = {
  async 'a good image: verified, downloaded, hashed while written, installed, restarted, confirmed after reaching the broker'(peer, restart) {
    await onlineDevice(peer);
    const r = release({ minVersion: '0.2.0' });
    await peer.cmd('ota-1', 'ota', r.params);
    assert.equal(
      peer.of('ota.fetch', peer.fresh()).map((c) => [c.url, c.offset]),
      [[URL, 0]],
    );
    await serve(peer, r.bytes, 0, r.bytes.length);
    await peer.send({ type: 'ota.end' });
    const calls = peer.fresh();
    assert.equal(
      peer.of('ota.complete', calls).map((c) => c.sha256),
      [r.params.sha256],
      'the bytes made bootable are the signed image',
    );
    assert.is(peer.of('ota.write', calls).at(-1)!.total, r.bytes.length);
    const acks = peer.acks('ota-1');
    assert.equal(
      acks.map((a) => a.state).filter((s) => s !== 'progress'),
      ['accepted', 'done'],
    );
    assert.equal(acks.at(-1)!.result, { installed: '0.2.0' });
    assert.ok(acks.filter((a) => a.state === 'progress').length >= 5, 'progress is reported while downloading');
    assert.is(peer.of('ota.restart').length, 0, 'the done ack leaves before the restart');
    await peer.advance(1_000);
    assert.is(peer.of('ota.restart').length, 1);
    const prefs = (await peer.stats()).prefs;
    assert.equal(JSON.parse(prefs.ota!), { job: 'ota-1', version: '0.2.0', from: '0.1.0', floor: '0.2.0' });
    peer.assertHealthy();

    const next = await restart();
    await next.boot(
      bootWith(prefs, {
        facts: { mac: 'A4:CF:12:B4:C9:E0', model: MODEL, fw: '0.2.0', caps: ['qr.show', 'identify', 'ota'], boot: 8 },
        ota: { capacity: 64 * 1024, onTrial: true },
      }),
    );
    await next.send({ type: 'wifi', status: 'gotip' });
    assert.is(next.of('ota.markValid').length, 0, 'not valid before it has reached the broker');
    await next.send({ type: 'mqtt.ready' });
    assert.is(next.of('ota.markValid').length, 1);
    const hello = lastHello(next);
    assert.is(hello.fw, '0.2.0');
    assert.equal(hello.ota, { job: 'ota-1', version: '0.2.0', outcome: 'confirmed' });
    const after = (await next.stats()).prefs;
    assert.is(after.ota, undefined, 'reported once');
    assert.is(after.otafloor, '0.2.0', "the release's minVersion becomes the floor");
    await next.advance(TRIAL_MS * 2);
    assert.is(next.of('ota.rollback').length, 0);
    next.assertHealthy();
  },

  async 'a bad signature is refused before a byte is downloaded'(peer) {
    await onlineDevice(peer);
    await peer.cmd('ota-1', 'ota', release({}, { key: OTHER.privateKey }).params);
    const good = release();
    const tampered = { ...good.params, manifest: good.params.manifest.replace('"0.2.0"', '"0.2.1"') };
    await peer.cmd('ota-2', 'ota', tampered);
    assert.equal(peer.ackStates('ota-1'), ['accepted', 'failed']);
    assert.match(peer.acks('ota-1').at(-1)!.error!, /^BAD_SIGNATURE/);
    assert.match(peer.acks('ota-2').at(-1)!.error!, /^BAD_SIGNATURE/);
    assert.is(peer.of('ota.fetch').length, 0, 'nothing fetched');
    assert.is(peer.of('ota.begin').length, 0, 'the update partition is untouched');
    peer.assertHealthy();
  },

  async 'a hash mismatch aborts the install; nothing is made bootable'(peer) {
    await onlineDevice(peer);
    const r = release();
    const served = Uint8Array.from(r.bytes);
    served[7_777] = served[7_777]! ^ 0x01;
    await peer.cmd('ota-1', 'ota', r.params);
    await serve(peer, served, 0, served.length);
    await peer.send({ type: 'ota.end' });
    await peer.advance(5_000);
    assert.is(peer.of('ota.cancel').length, 1);
    assert.is(peer.of('ota.complete').length, 0);
    assert.is(peer.of('ota.restart').length, 0);
    assert.match(peer.acks('ota-1').at(-1)!.error!, /^HASH_MISMATCH/);
    assert.is((await peer.stats()).prefs.ota, undefined);
    peer.assertHealthy();
  },

  async 'a drop at 40 % resumes with Range from the last byte written, then completes'(peer) {
    await onlineDevice(peer);
    const r = release();
    await peer.cmd('ota-1', 'ota', r.params);
    await serve(peer, r.bytes, 0, 4_000);
    await peer.send({ type: 'ota.end', error: 'socket closed' });
    assert.is(peer.of('ota.fetch').length, 1, 'waits before resuming');
    await peer.advance(2_000);
    assert.equal(
      peer.of('ota.fetch').map((c) => c.offset),
      [0, 4_000],
    );
    await serve(peer, r.bytes, 4_000, r.bytes.length);
    await peer.send({ type: 'ota.end' });
    assert.equal(
      peer.of('ota.complete').map((c) => c.sha256),
      [r.params.sha256],
    );
    assert.is(peer.of('ota.begin').length, 1, 'the partition was not erased again');
    assert.is(peer.acks('ota-1').at(-1)!.state, 'done');
    peer.assertHealthy();
  },

  async 'a trial shorter than a second gives its time in milliseconds in the reason, not as 0 s'(peer, restart) {
    await onlineDevice(peer);
    const prefs = await install(peer, release());
    const trial = await restart();
    await trial.boot(
      bootWith(prefs, {
        facts: { mac: 'A4:CF:12:B4:C9:E0', model: MODEL, fw: '0.2.0', caps: ['qr.show', 'identify', 'ota'], boot: 8 },
        ota: { capacity: 64 * 1024, onTrial: true },
        options: { otaTrialMs: 1 },
      }),
    );
    await trial.advance(1);
    assert.is(trial.of('ota.rollback').length, 1);
    assert.is(JSON.parse((await trial.stats()).prefs.ota!).reason, 'the new image did not reach the broker within 1 ms');
    trial.assertHealthy();
  },

  async 'a new image that never reaches the broker rolls back, and the old one reports it'(peer, restart) {
    await onlineDevice(peer);
    const prefs = await install(peer, release());
    const trial = await restart();
    await trial.boot(
      bootWith(prefs, {
        facts: { mac: 'A4:CF:12:B4:C9:E0', model: MODEL, fw: '0.2.0', caps: ['qr.show', 'identify', 'ota'], boot: 8 },
        ota: { capacity: 64 * 1024, onTrial: true },
      }),
    );
    await trial.send({ type: 'wifi', status: 'gotip' });
    await trial.advance(TRIAL_MS - 1);
    assert.is(trial.of('ota.rollback').length, 0);
    await trial.advance(1);
    assert.is(trial.of('ota.rollback').length, 1);
    assert.is(trial.of('ota.markValid').length, 0);
    const left = (await trial.stats()).prefs;
    assert.match(JSON.parse(left.ota!).reason, /did not reach the broker within 120 s/);
    trial.assertHealthy();

    const old = await restart();
    await old.boot(bootWith(left));
    await old.online();
    const hello = lastHello(old);
    assert.is(hello.fw, '0.1.0');
    assert.equal(hello.ota, { job: 'ota-1', version: '0.2.0', outcome: 'rolled-back', reason: 'the new image did not reach the broker within 120 s' });
    assert.is((await old.stats()).prefs.ota, undefined);
    assert.is((await old.stats()).prefs.otafloor, undefined, 'a rolled-back release sets no floor');
    old.assertHealthy();
  },

  async 'a busy device refuses the update; once idle, the next attempt is accepted'(peer) {
    await onlineDevice(peer);
    await peer.cmd('pay-1', 'qr.show', { text: 'https://pay.example/1', caption: 'Pay', hold: true });
    const r = release();
    await peer.cmd('ota-1', 'ota', r.params);
    assert.equal(peer.ackStates('ota-1'), ['rejected']);
    assert.match(peer.acks('ota-1')[0]!.error!, /^BUSY/);
    assert.is(peer.of('ota.fetch').length, 0);
    await peer.cmd('pay-1', 'qr.show', {}, { complete: true });
    assert.is(peer.acks('pay-1').at(-1)!.state, 'done');
    await peer.cmd('ota-2', 'ota', r.params);
    assert.equal(peer.ackStates('ota-2').slice(0, 1), ['accepted']);
    assert.is(peer.of('ota.fetch').length, 1);
    peer.assertHealthy();
  },

  async 'wrong model, a version below the floor and too little space are refused before download'(peer) {
    await onlineDevice(peer, { otafloor: '0.3.0' });
    await peer.cmd('ota-1', 'ota', release({ version: '0.4.0', models: ['esp32_c3_devkit'] }).params);
    await peer.cmd('ota-2', 'ota', release({ version: '0.2.5' }).params);
    await peer.cmd('ota-3', 'ota', release({ version: '0.4.0' }, { bytes: image(70 * 1024) }).params);
    assert.match(peer.acks('ota-1').at(-1)!.error!, /^WRONG_MODEL/);
    assert.match(peer.acks('ota-2').at(-1)!.error!, /^DOWNGRADE/);
    assert.match(peer.acks('ota-3').at(-1)!.error!, /^NO_SPACE/);
    assert.is(peer.of('ota.fetch').length + peer.of('ota.begin').length, 0);
    peer.assertHealthy();
  },

  async 'a device without release keys refuses every update'(peer) {
    await peer.boot({
      ...bootWith({}),
      prefs: { ssid: 'lab', broker: 'mqtt://broker.local:1884', insecure: '1', id: DEVICE, secret: 'k3y-5ecret-0123456789abcdef' },
    });
    await peer.online();
    await peer.cmd('ota-1', 'ota', release().params);
    assert.match(peer.acks('ota-1').at(-1)!.error!, /^NO_RELEASE_KEY/);
    assert.is(peer.of('ota.fetch').length, 0);
    assert.ok(peer.published('ack').every((c) => c.topic === deviceTopic(DEVICE, 'ack')));
    peer.assertHealthy();
  },
};
