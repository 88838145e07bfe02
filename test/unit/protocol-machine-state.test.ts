// Reported-state patches, settings, merge, delta and derived status (protocol/machine-state.ts):
// the checks the broker and the firmware share.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { machineStatus, mergeState, parseSettingsPatch, parseStatePatch, settingFromText, settingsDelta } from '../../protocol/machine-state';
import { expectProtocolError } from '../helpers/protocol';

const { BAD_PARAMS } = ErrorCode;
const t = suite('machine state');

t('a valid patch passes unchanged; nulls remove', () => {
  const p = {
    machine: { status: 'busy', job: 'j-1', error: null },
    consumables: { 'ink.c': { level: 42.5, unit: '%' }, paper: null },
    counters: { prints: 7 },
    settings: { 'display.brightness': 80 },
  };
  assert.is(parseStatePatch(p), p);
  assert.equal(parseStatePatch({}), {});
});

t('wrong types, unknown fields, bad names and too many entries are refused, naming the field', () => {
  const cases: Array<[unknown, string]> = [
    [[], 'state'],
    ['x', 'state'],
    [{ owner: 'x' }, 'state.owner'],
    [{ machine: { status: 'printing' } }, 'machine.status'],
    [{ machine: { status: 'idle', extra: 1 } }, 'machine.extra'],
    [{ machine: { error: { code: '', message: 'x' } } }, 'machine.error.code'],
    [{ machine: { job: 5 } }, 'machine.job'],
    [{ consumables: { 'ink.c': { level: 101 } } }, 'consumables.ink.c.level'],
    [{ consumables: { 'ink.c': { level: -1 } } }, 'consumables.ink.c.level'],
    [{ consumables: { 'ink.c': { level: '5' } } }, 'consumables.ink.c.level'],
    [{ consumables: { 'ink.c': { level: 5, colour: 'cyan' } } }, 'consumables.ink.c.colour'],
    [{ consumables: { 'Ink C': { level: 5 } } }, 'consumables'],
    [{ consumables: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, { level: 1 }])) }, 'consumables'],
    [{ counters: { prints: -1 } }, 'counters.prints'],
    [{ counters: { prints: 1.5 } }, 'counters.prints'],
    [{ settings: { 'wifi.psk': 'x' } }, 'settings.wifi.psk'],
    [{ settings: { 'display.brightness': 101 } }, 'settings.display.brightness'],
    [{ settings: { 'display.language': 'Portuguese' } }, 'settings.display.language'],
  ];
  for (const [bad, field] of cases) expectProtocolError(() => parseStatePatch(bad), BAD_PARAMS, field);
});

t('merge is RFC 7396 on two levels, records when each field changed, and reports what changed', () => {
  const meta: Record<string, number> = {};
  const a = mergeState({}, { machine: { status: 'idle' }, consumables: { 'ink.c': { level: 50 } } }, meta, 1);
  assert.equal(a.state, { machine: { status: 'idle' }, consumables: { 'ink.c': { level: 50 } } });
  assert.equal(a.changed.sort(), ['consumables.ink.c', 'machine.status']);
  const b = mergeState(a.state, { machine: { status: 'idle' }, consumables: { 'ink.c': { level: 49 } } }, meta, 2);
  assert.equal(b.changed, ['consumables.ink.c'], 'an unchanged field is not a change');
  assert.equal(meta, { 'machine.status': 1, 'consumables.ink.c': 2 });
  const c = mergeState(b.state, { consumables: { 'ink.c': null }, machine: null }, meta, 3);
  assert.equal(c.state, {});
  assert.equal(mergeState(c.state, {}, meta, 4).changed, []);
  assert.equal(a.state.consumables!['ink.c']!.level, 50, 'the input document is not modified');
});

t('delta: desired settings not yet reported as applied', () => {
  assert.equal(settingsDelta({ 'display.brightness': 40, 'display.language': 'en' }, { settings: { 'display.brightness': 40, 'display.language': 'pt' } }), {
    'display.language': 'en',
  });
  assert.equal(settingsDelta({}, {}), {});
});

t('settings from text take their type; unknown ones are refused', () => {
  assert.is(settingFromText('display.brightness', '40'), 40);
  assert.is(settingFromText('display.language', 'pt-br'), 'pt-br');
  expectProtocolError(() => settingFromText('display.brightness', 'bright'), BAD_PARAMS, 'display.brightness');
  expectProtocolError(() => settingFromText('nope', '1'), BAD_PARAMS, 'nope');
  assert.equal(parseSettingsPatch({ 'qr.defaultExpirySeconds': 300, 'display.language': null }), { 'qr.defaultExpirySeconds': 300, 'display.language': null });
});

t('derived status: presence first, then error, maintenance, busy, then a low consumable', () => {
  assert.is(machineStatus('offline', { machine: { status: 'busy' } }, 15), 'offline');
  assert.is(machineStatus('reconnecting', null, 15), 'reconnecting');
  assert.is(machineStatus('online', null, 15), 'idle');
  assert.is(machineStatus('online', { machine: { status: 'error' }, consumables: { 'ink.k': { level: 1 } } }, 15), 'error');
  assert.is(machineStatus('online', { machine: { status: 'maintenance' } }, 15), 'maintenance');
  assert.is(machineStatus('online', { machine: { status: 'idle', job: 'j' } }, 15), 'busy');
  assert.is(machineStatus('online', { machine: { status: 'idle' } }, 15, true), 'busy', 'a job of the queue running on the device');
  assert.is(machineStatus('online', null, 15, true), 'busy', 'a device that reports no state, running a job');
  assert.is(machineStatus('online', { machine: { status: 'idle' }, consumables: { 'ink.k': { level: 14 } } }, 15), 'attention');
  assert.is(
    machineStatus('online', { consumables: { 'ink.k': { level: 14 } }, settings: { 'alerts.inkLowPercent': 10 } }, 15),
    'idle',
    "the device's own threshold wins",
  );
});

t.run();
