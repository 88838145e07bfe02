// One node's presence in memory: takeovers that overlap two connections, and grace windows that
// share one timer yet each end on time, in the order they began, unless the device came back.
import * as assert from 'uvu/assert';
import type { Status } from '../../protocol/messages';
import { LocalPresence } from '../../broker/presence';
import { ManualClock } from '../helpers/manual-clock';
import { suite } from '../helpers/suite';

const GRACE_MS = 150;

// Time moves only when the test says, so "still reconnecting" is checked at an exact moment
// rather than after a sleep that a loaded machine can stretch.
function recording(): { presence: LocalPresence; heard: { device: string; s: Status }[]; clock: ManualClock } {
  const heard: { device: string; s: Status }[] = [];
  const clock = new ManualClock(() => 0);
  return { presence: new LocalPresence(GRACE_MS, (device, s) => heard.push({ device, s }), clock, 1), heard, clock };
}

const test = suite('local presence');

test('a takeover is online/takeover; the old close is stale; the last close starts the grace window', () => {
  const { presence, heard } = recording();
  presence.opened('d1', 1);
  presence.registered('d1', 1);
  presence.opened('d1', 2);
  presence.registered('d1', 2);
  assert.equal(presence.status('d1').reason, 'takeover');
  assert.is(presence.closed('d1', 1, 'socket'), false);
  assert.is(presence.closed('d1', 1, 'socket'), false, 'a close seen twice changes nothing');
  assert.is(presence.status('d1').state, 'online');
  assert.is(presence.closed('d1', 2, 'clean'), true);
  assert.equal(
    heard.map((h) => `${h.s.state}/${h.s.conn}`),
    ['online/1', 'online/2', 'reconnecting/2'],
  );
  presence.stop();
});

test('grace windows end in order on one timer; a device back in time stays online', () => {
  const { presence, heard, clock } = recording();
  for (const [d, conn] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ] as const) {
    presence.opened(d, conn);
    presence.registered(d, conn);
  }
  presence.closed('a', 1, 'socket');
  clock.advance(50);
  presence.closed('b', 2, 'keepalive');
  presence.closed('c', 3, 'clean');
  presence.opened('b', 4);
  presence.registered('b', 4);
  clock.advance(GRACE_MS - 50 - 1);
  assert.is(presence.status('a').state, 'reconnecting', "a's window has 1 ms left");
  clock.advance(1);
  assert.is(presence.status('a').state, 'offline', "a's window ended on time");
  assert.is(presence.status('c').state, 'reconnecting', 'c began its window 50 ms after a');
  clock.advance(50);
  assert.equal(
    [presence.status('a'), presence.status('b'), presence.status('c')].map((s) => `${s.state}/${s.reason ?? ''}`),
    ['offline/socket', 'online/', 'offline/clean'],
  );
  const offline = heard.filter((h) => h.s.state === 'offline').map((h) => h.device);
  assert.equal(offline, ['a', 'c']);
  presence.stop();
});

test('after a restart, the devices seen before are reconnecting until their window ends', () => {
  const { presence, clock } = recording();
  presence.afterRestart(['x', 'y'], ['z']);
  assert.equal(
    ['x', 'y', 'z'].map((d) => presence.status(d).state),
    ['reconnecting', 'reconnecting', 'offline'],
  );
  presence.opened('x', 10);
  presence.registered('x', 10);
  clock.advance(GRACE_MS - 1);
  assert.is(presence.status('y').state, 'reconnecting', 'y still inside its window');
  clock.advance(1);
  assert.equal(
    ['x', 'y'].map((d) => presence.status(d).state),
    ['online', 'offline'],
  );
  assert.is(presence.status('y').reason, 'broker-restart');
  presence.stop();
});

test.run();
