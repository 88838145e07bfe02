import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { FINAL_JOB_STATES, JOB_KINDS, JOB_STATES, isJobKind, parseJobParams } from '../../protocol/jobs';
import { expectProtocolError, attempt } from '../helpers/protocol';

const { BAD_PARAMS, UNSUPPORTED } = ErrorCode;
type Obj = Record<string, unknown>;

/** Each case: params (merged over the kind's minimal valid params) that must be refused naming `field`. */
function refusesEach(kind: string, minimal: Obj, cases: [Obj, string][]): void {
  for (const [patch, field] of cases) expectProtocolError(() => parseJobParams(kind, { ...minimal, ...patch }), BAD_PARAMS, field);
}

const kinds = suite('jobs: kinds');

kinds('the built-in kinds, and which may be retried after an interruption', () => {
  assert.equal(Object.keys(JOB_KINDS).sort(), ['identify', 'print', 'qr.show', 'serial.send']);
  assert.is(JOB_KINDS['qr.show'].idempotent, true);
  assert.is(JOB_KINDS.identify.idempotent, true);
  // Bytes sent to a machine may have had an effect; never resend them blindly.
  assert.is(JOB_KINDS['serial.send'].idempotent, false);
  // A print goes back to its device under the same job id, which the device dedupes: it resumes.
  assert.is(JOB_KINDS.print.idempotent, true);
  for (const spec of Object.values(JOB_KINDS)) assert.ok(spec.typicalMs > 0);
});

kinds('an unknown kind is UNSUPPORTED, including names inherited from Object', () => {
  for (const kind of ['reboot', 'QR.SHOW', '', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    assert.not.ok(isJobKind(kind), kind);
    expectProtocolError(() => parseJobParams(kind, {}), UNSUPPORTED, 'kind');
  }
  for (const kind of [null, 5, ['identify']]) assert.not.ok(isJobKind(kind));
});

kinds('params must be an object', () => {
  for (const params of [null, undefined, [], 'seconds=3', 3]) expectProtocolError(() => parseJobParams('identify', params), BAD_PARAMS, 'params');
});

kinds('final states are job states, and a queued or running job is not final', () => {
  for (const s of FINAL_JOB_STATES) assert.ok(JOB_STATES.includes(s), s);
  for (const s of ['queued', 'dispatched', 'running'] as const) assert.not.ok(FINAL_JOB_STATES.includes(s), s);
});

kinds.run();

const qr = suite('jobs: qr.show');
const QR_MIN = { text: 'upi://pay?pa=shop@bank&am=12.50', caption: '' };

qr('minimal params give exactly text and caption', () => {
  const p = parseJobParams('qr.show', QR_MIN);
  assert.equal(p, QR_MIN);
  assert.equal(Object.keys(p).sort(), ['caption', 'text'], 'absent optionals are not present as undefined');
});

qr('full params are kept, and unknown params are dropped', () => {
  const full = { text: 'x'.repeat(1024), caption: 'c'.repeat(64), amount: 12.5, currency: 'INR', expiresAt: 1_700_000_000_000, hold: true };
  assert.equal(parseJobParams('qr.show', { ...full, colour: 'red' }), full);
  assert.equal(parseJobParams('qr.show', { ...QR_MIN, amount: 0, hold: false }), { ...QR_MIN, amount: 0, hold: false });
});

qr('each invalid field is BAD_PARAMS naming it', () => {
  refusesEach('qr.show', QR_MIN, [
    [{ text: undefined }, 'text'],
    [{ text: '' }, 'text'],
    [{ text: 'x'.repeat(1025) }, 'text'],
    [{ text: 42 }, 'text'],
    [{ caption: undefined }, 'caption'],
    [{ caption: 'c'.repeat(65) }, 'caption'],
    [{ amount: -0.01 }, 'amount'],
    [{ amount: 1e9 + 1 }, 'amount'],
    [{ amount: '12.50' }, 'amount'],
    [{ currency: 'inr' }, 'currency'],
    [{ currency: 'EURO' }, 'currency'],
    [{ currency: 978 }, 'currency'],
    [{ expiresAt: 1.5 }, 'expiresAt'],
    [{ expiresAt: -1 }, 'expiresAt'],
    [{ hold: 'true' }, 'hold'],
    [{ hold: null }, 'hold'],
  ]);
});

qr.run();

const identify = suite('jobs: identify');

identify('seconds is an integer from 1 to 60', () => {
  assert.equal(parseJobParams('identify', { seconds: 1 }), { seconds: 1 });
  assert.equal(parseJobParams('identify', { seconds: 60, extra: true }), { seconds: 60 });
  refusesEach('identify', {}, [
    [{}, 'seconds'],
    [{ seconds: 0 }, 'seconds'],
    [{ seconds: 61 }, 'seconds'],
    [{ seconds: 2.5 }, 'seconds'],
    [{ seconds: '5' }, 'seconds'],
  ]);
});

identify.run();

const serial = suite('jobs: serial.send');
const SERIAL_MIN = { data: 'AQID', timeoutMs: 500 };

serial('minimal and full params', () => {
  assert.equal(parseJobParams('serial.send', SERIAL_MIN), SERIAL_MIN);
  const full = { data: 'AQI=', timeoutMs: 60_000, expect: 'Bg==' };
  assert.equal(parseJobParams('serial.send', full), full);
});

serial('data and expect accept the base64 of any bytes within the limits', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 3072 }), fc.uint8Array({ minLength: 1, maxLength: 192 }), (data, expect) => {
      const params = { data: Buffer.from(data).toString('base64'), timeoutMs: 1, expect: Buffer.from(expect).toString('base64') };
      assert.equal(parseJobParams('serial.send', params), params);
    }),
  );
});

serial('each invalid field is BAD_PARAMS naming it', () => {
  refusesEach('serial.send', SERIAL_MIN, [
    [{ data: undefined }, 'data'],
    [{ data: '' }, 'data'],
    [{ data: 'AQI' }, 'data'], // unpadded
    [{ data: 'AQ=I' }, 'data'],
    [{ data: 'AQ-_' }, 'data'], // base64url is not accepted
    [{ data: 'AQID\n' }, 'data'],
    [{ data: 'A'.repeat(4100) }, 'data'],
    [{ data: [1, 2, 3] }, 'data'],
    [{ timeoutMs: undefined }, 'timeoutMs'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: 60_001 }, 'timeoutMs'],
    [{ timeoutMs: 1.5 }, 'timeoutMs'],
    [{ expect: '' }, 'expect'],
    [{ expect: 'not base64!' }, 'expect'],
    [{ expect: 'A'.repeat(260) }, 'expect'],
  ]);
});

serial.run();

const props = suite('jobs: properties');

props('no JSON value as kind or params makes parseJobParams throw anything but a ProtocolError', () => {
  const kind = fc.oneof(fc.constantFrom(...Object.keys(JOB_KINDS)), fc.string());
  const knownFields = fc.dictionary(
    fc.constantFrom('text', 'caption', 'amount', 'currency', 'expiresAt', 'hold', 'seconds', 'data', 'timeoutMs', 'expect'),
    fc.jsonValue(),
  );
  fc.assert(
    fc.property(kind, fc.oneof(fc.jsonValue(), knownFields), (k, params) => {
      attempt(() => parseJobParams(k, params));
    }),
  );
});

props.run();
