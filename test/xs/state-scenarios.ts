// Machine state and settings on the device (docs/architecture.md, Machine state), run on Node and
// inside the real XS engine (core.test.ts): the attached machine's status read over serial and
// reported on change, coalesced, in full on every session and every period; settings from
// config.delta applied, kept, reported back, and a stale delta ignored. Every report is checked
// with the broker's own validator.
import * as assert from 'uvu/assert';
import { parseStatePatch } from '../../protocol/machine-state';
import { DEVICE, MAC, type Peer } from './harness/peer';
import type { Scenario } from './core-scenarios';

const hex = (text: string): string => Buffer.from(text, 'latin1').toString('hex');
const PRINTER = { mac: MAC, model: 'esp32', fw: '0.1.0', caps: ['serial.send'], boot: 1 };
const OPTIONS = { machinePollMs: 1_000, stateMinIntervalMs: 5_000, stateReportMs: 60_000, mqttBackoff: { baseMs: 1_000, capMs: 1_000, factor: 2, jitter: 0 } };

const reports = (peer: Peer, calls = peer.fresh()): Record<string, any>[] =>
  peer.published('state', calls).map((c) => parseStatePatch(JSON.parse(c.payload)) as Record<string, any>);

/** Answers the status request in flight with the printer's status line. */
async function answer(peer: Peer, status: Record<string, unknown>): Promise<void> {
  const asked = peer.of('serial.send').at(-1);
  assert.ok(asked, 'the device asked the machine for its status');
  assert.is(asked!.data, hex('STATUS\n'));
  await peer.send({ type: 'serial.reply', ok: true, data: hex(`${JSON.stringify(status)}\n`) });
  await peer.advance(0);
}

const printer = (k: number, extra: Record<string, unknown> = {}) => ({ status: 'idle', ink: { c: 80, m: 70, y: 60, k }, paper: 90, prints: 100 - k, ...extra });

export const stateScenarios: Record<string, Scenario> = {
  async 'state: the machine status read over serial is reported on change, coalesced, in full on reconnect and every period'(peer) {
    await peer.boot({ serial: true, facts: PRINTER, options: OPTIONS });
    await peer.online();
    await peer.advance(0);
    peer.fresh();
    await answer(peer, printer(50));
    const first = reports(peer);
    assert.equal(
      first,
      [
        {
          machine: { status: 'idle' },
          consumables: { 'ink.c': { level: 80 }, 'ink.m': { level: 70 }, 'ink.y': { level: 60 }, 'ink.k': { level: 50 }, paper: { level: 90 } },
          counters: { prints: 50 },
        },
      ],
      'the first status goes out at once',
    );

    // Three changes within the minimum interval (5 s): nothing yet, then one patch with the last values.
    for (const k of [49, 48, 47]) {
      await peer.advance(1_000);
      await answer(peer, printer(k, k === 48 ? { status: 'error', error: { code: 'JAM', message: 'paper jam' } } : {}));
    }
    assert.equal(reports(peer), [], 'coalesced: nothing before the minimum interval');
    await peer.advance(2_000);
    await answer(peer, printer(47));
    assert.equal(
      reports(peer),
      [{ consumables: { 'ink.k': { level: 47 } }, counters: { prints: 53 }, machine: { status: 'idle', error: null } }],
      'one patch; the jam came and went, so error is null',
    );

    // Nothing changes: nothing is sent until the period, which sends everything.
    await peer.advance(1_000);
    await answer(peer, printer(47));
    assert.equal(reports(peer), []);
    await peer.advance(60_000);
    const periodic = reports(peer);
    assert.is(periodic.length, 1, 'the whole state again at the period');
    assert.equal(periodic[0]!.consumables['ink.k'], { level: 47 });
    assert.equal(periodic[0]!.machine, { status: 'idle', job: null, error: null });

    // Offline, the changes wait; a new session reports the whole state at once.
    await peer.send({ type: 'mqtt.close', reason: 'broker restarted' });
    await answer(peer, printer(40));
    assert.equal(reports(peer), [], 'nothing is published without a session');
    await peer.advance(1_000);
    await peer.send({ type: 'mqtt.ready' });
    const again = reports(peer);
    assert.is(again.length, 1);
    assert.equal(again[0]!.consumables['ink.k'], { level: 40 });
    assert.equal(again[0]!.machine, { status: 'idle', job: null, error: null });
    peer.assertHealthy();
  },

  async 'state: an unreadable status is logged once and reports nothing'(peer) {
    await peer.boot({ serial: true, facts: PRINTER, options: OPTIONS });
    await peer.online();
    await peer.advance(0);
    peer.fresh();
    for (let i = 0; i < 3; i++) {
      await peer.send({ type: 'serial.reply', ok: true, data: hex('STATUS\n') });
      await peer.advance(1_000);
    }
    const calls = peer.fresh();
    assert.equal(reports(peer, calls), []);
    assert.is(peer.logs('warn', 'cannot read the machine status', calls).length, 1);
    peer.assertHealthy();
  },

  async 'settings: config.delta is applied, kept, reported back; a stale delta is ignored, an unknown key skipped'(peer) {
    await peer.boot({ options: { stateMinIntervalMs: 1_000, stateReportMs: 600_000 } });
    await peer.online();
    peer.fresh();
    await peer.deliver('config', {
      agent: null,
      claimCode: 'K7P2QX',
      settings: {},
      delta: { version: 3, settings: { 'display.brightness': 40, 'display.language': 'pt-br', 'future.setting': 1 } },
    });
    await peer.advance(0);
    const applied = peer.fresh();
    assert.equal(reports(peer, applied), [{ settings: { 'display.brightness': 40, 'display.language': 'pt-br' } }]);
    assert.is(peer.logs('warn', 'skipped a setting this firmware cannot apply', applied).length, 1);
    const stats = await peer.stats();
    assert.equal(JSON.parse(stats.prefs.settings!), { 'display.brightness': 40, 'display.language': 'pt-br' });
    assert.is(stats.prefs.setver, '3');

    // A late config with an older delta changes nothing.
    await peer.advance(2_000);
    await peer.deliver('config', { agent: null, claimCode: 'K7P2QX', settings: {}, delta: { version: 2, settings: { 'display.brightness': 90 } } });
    await peer.advance(2_000);
    const stale = peer.fresh();
    assert.equal(reports(peer, stale), []);
    assert.is(peer.logs('info', 'ignored a stale settings delta', stale).length, 1);
    assert.is(JSON.parse((await peer.stats()).prefs.settings!)['display.brightness'], 40);

    // The broker still lists an applied setting (it missed the report): it is reported again.
    await peer.deliver('config', { agent: null, claimCode: 'K7P2QX', settings: {}, delta: { version: 3, settings: { 'display.language': 'pt-br' } } });
    await peer.advance(1_000);
    assert.equal(reports(peer), [{ settings: { 'display.language': 'pt-br' } }]);

    assert.ok(
      peer.published('state').every((c) => c.topic === `fb/v1/d/${DEVICE}/state` && !c.retain),
      'state is never retained',
    );
    peer.assertHealthy();
  },
  async 'settings: after a restart the device runs with the settings it kept, and reports them first'(peer) {
    await peer.boot({
      prefs: {
        ssid: 'lab',
        broker: 'mqtt://broker.local:1884',
        insecure: '1',
        id: DEVICE,
        secret: 'k3y-5ecret-0123456789abcdef',
        settings: JSON.stringify({ 'display.brightness': 40, bogus: 1 }),
        setver: '3',
      },
    });
    await peer.online();
    assert.equal(reports(peer), [{ settings: { 'display.brightness': 40 } }]);
    await peer.deliver('config', { agent: null, claimCode: 'K7P2QX', settings: {}, delta: { version: 2, settings: { 'display.brightness': 90 } } });
    await peer.advance(2_000);
    assert.equal(reports(peer), [], 'a delta older than the kept version is ignored');
    peer.assertHealthy();
  },
};
