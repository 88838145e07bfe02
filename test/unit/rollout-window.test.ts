// A rollout's daily send window (docs/architecture.md, Over-the-air updates): inside or outside on
// the wall clock of its time zone, across midnight, and refused when malformed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkWindow, inWindow } from '../../broker/ota/window';
import { parseRolloutRequest, parseRolloutWindow } from '../../protocol/ota';

const test = suite('rollout window');
const at = (iso: string): number => Date.parse(iso);

test('a daytime window: start included, end excluded, in UTC by default', () => {
  const w = parseRolloutWindow({ start: '09:00', end: '17:30' });
  assert.equal(w, { start: '09:00', end: '17:30', timeZone: 'UTC' });
  assert.not.ok(inWindow(w, at('2026-03-02T08:59:59Z')));
  assert.ok(inWindow(w, at('2026-03-02T09:00:00Z')));
  assert.ok(inWindow(w, at('2026-03-02T17:29:59Z')));
  assert.not.ok(inWindow(w, at('2026-03-02T17:30:00Z')));
});

test('a night window runs past midnight', () => {
  const w = parseRolloutWindow({ start: '22:00', end: '05:00' });
  assert.ok(inWindow(w, at('2026-03-02T23:15:00Z')));
  assert.ok(inWindow(w, at('2026-03-03T00:00:00Z')));
  assert.ok(inWindow(w, at('2026-03-03T04:59:00Z')));
  assert.not.ok(inWindow(w, at('2026-03-03T05:00:00Z')));
  assert.not.ok(inWindow(w, at('2026-03-03T12:00:00Z')));
});

test("the time zone's wall clock, daylight saving included", () => {
  const w = parseRolloutWindow({ start: '02:00', end: '04:00', timeZone: 'Europe/Berlin' });
  checkWindow(w);
  // 01:30 UTC is 02:30 in Berlin in winter (UTC+1) and 03:30 in summer (UTC+2): inside both times.
  assert.ok(inWindow(w, at('2026-01-15T01:30:00Z')));
  assert.ok(inWindow(w, at('2026-07-15T01:30:00Z')));
  // 02:30 UTC is 03:30 in winter (inside) but 04:30 in summer (outside).
  assert.ok(inWindow(w, at('2026-01-15T02:30:00Z')));
  assert.not.ok(inWindow(w, at('2026-07-15T02:30:00Z')));
});

test('malformed windows are refused with the field named', () => {
  for (const bad of [{ start: '9:00', end: '10:00' }, { start: '24:00', end: '01:00' }, { start: '10:00', end: '10:00' }, { start: '10:00' }, 'nightly']) {
    try {
      parseRolloutWindow(bad);
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.instance(e, Error);
      assert.match(String((e as { field?: string }).field ?? ''), /window|start|end/, JSON.stringify(bad));
    }
  }
  assert.throws(() => checkWindow({ start: '01:00', end: '02:00', timeZone: 'Mars/Olympus' }), /not an IANA time zone/);
  assert.equal(parseRolloutRequest({ release: '1.0.0', target: { all: true } }).window, undefined, 'no window: any time');
  assert.equal(parseRolloutRequest({ release: '1.0.0', target: { all: true }, window: { start: '01:00', end: '02:00', timeZone: 'Asia/Tokyo' } }).window, {
    start: '01:00',
    end: '02:00',
    timeZone: 'Asia/Tokyo',
  });
});

test.run();
