import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { bool, num, object, oneOf, optBool, optNum, optStr, parseJson, str, strArray } from '../../protocol/validate';
import { expectProtocolError } from '../helpers/protocol';

const { BAD_REQUEST, BAD_PARAMS } = ErrorCode;

const v = suite('validate');

v('parseJson parses JSON and refuses anything else with the chosen code', () => {
  assert.equal(parseJson('{"a":[1,null]}'), { a: [1, null] });
  expectProtocolError(() => parseJson('{"a":'), BAD_REQUEST, undefined);
  expectProtocolError(() => parseJson(''), BAD_REQUEST, undefined);
  expectProtocolError(() => parseJson("{'a':1}", BAD_PARAMS), BAD_PARAMS, undefined);
});

v('object accepts plain objects only, naming the field', () => {
  const o = { a: 1 };
  assert.is(object(o), o);
  for (const bad of [null, undefined, [], [1], 'x', 1, true]) expectProtocolError(() => object(bad, 'settings'), BAD_REQUEST, 'settings');
  expectProtocolError(() => object([], 'params', BAD_PARAMS), BAD_PARAMS, 'params');
  expectProtocolError(() => object(null), BAD_REQUEST, 'payload');
});

v('str checks type, bounds (inclusive) and pattern, naming the key', () => {
  const opts = { min: 2, max: 4, pattern: /^[a-z]+$/ };
  assert.is(str({ k: 'ab' }, 'k', opts), 'ab');
  assert.is(str({ k: 'abcd' }, 'k', opts), 'abcd');
  for (const bad of [undefined, null, 5, ['ab'], 'a', 'abcde', 'AB']) expectProtocolError(() => str({ k: bad }, 'k', opts), BAD_REQUEST, 'k');
  expectProtocolError(() => str({ k: 5 }, 'k', { code: BAD_PARAMS }), BAD_PARAMS, 'k');
  assert.is(str({ k: '' }, 'k'), '', 'no minimum unless asked');
});

v('num refuses non-numbers and non-finite values, and checks integer and bounds', () => {
  assert.is(num({ n: 0 }, 'n', { min: 0, max: 10 }), 0);
  assert.is(num({ n: 10 }, 'n', { min: 0, max: 10 }), 10);
  assert.is(num({ n: 2.5 }, 'n'), 2.5);
  for (const bad of ['5', null, undefined, NaN, Infinity, -Infinity, true]) expectProtocolError(() => num({ n: bad }, 'n'), BAD_REQUEST, 'n');
  expectProtocolError(() => num({ n: 2.5 }, 'n', { integer: true }), BAD_REQUEST, 'n');
  expectProtocolError(() => num({ n: -1 }, 'n', { min: 0 }), BAD_REQUEST, 'n');
  expectProtocolError(() => num({ n: 11 }, 'n', { max: 10, code: BAD_PARAMS }), BAD_PARAMS, 'n');
});

v('bool accepts only true and false', () => {
  assert.is(bool({ b: false }, 'b'), false);
  for (const bad of ['true', 1, 0, null, undefined]) expectProtocolError(() => bool({ b: bad }, 'b'), BAD_REQUEST, 'b');
});

v('optional variants treat only undefined as absent; null is a wrong type', () => {
  assert.is(optStr({}, 's'), undefined);
  assert.is(optNum({}, 'n'), undefined);
  assert.is(optBool({}, 'b'), undefined);
  assert.is(optStr({ s: 'x' }, 's'), 'x');
  assert.is(optNum({ n: 1 }, 'n'), 1);
  assert.is(optBool({ b: true }, 'b'), true);
  expectProtocolError(() => optStr({ s: null }, 's'), BAD_REQUEST, 's');
  expectProtocolError(() => optNum({ n: null }, 'n'), BAD_REQUEST, 'n');
  expectProtocolError(() => optBool({ b: null }, 'b', BAD_PARAMS), BAD_PARAMS, 'b');
});

v('strArray checks the array, its length, and names a bad item by index', () => {
  assert.equal(strArray({ caps: ['a', 'b'] }, 'caps', { maxItems: 2 }), ['a', 'b']);
  for (const bad of ['a', null, { 0: 'a' }]) expectProtocolError(() => strArray({ caps: bad }, 'caps'), BAD_REQUEST, 'caps');
  expectProtocolError(() => strArray({ caps: ['a', 'b', 'c'] }, 'caps', { maxItems: 2 }), BAD_REQUEST, 'caps');
  expectProtocolError(() => strArray({ caps: ['a', 7] }, 'caps'), BAD_REQUEST, 'caps[1]');
  expectProtocolError(() => strArray({ caps: ['a', ''] }, 'caps', { item: { min: 1, code: BAD_PARAMS } }), BAD_PARAMS, 'caps[1]');
});

v('oneOf accepts listed strings only', () => {
  assert.is(oneOf({ s: 'b' }, 's', ['a', 'b']), 'b');
  for (const bad of ['c', 'A', '', null, 1, ['a']]) expectProtocolError(() => oneOf({ s: bad }, 's', ['a', 'b']), BAD_REQUEST, 's');
  const e = expectProtocolError(() => oneOf({ s: 'c' }, 's', ['a', 'b'], BAD_PARAMS), BAD_PARAMS, 's');
  assert.match(e.message, 'a, b');
});

v.run();
