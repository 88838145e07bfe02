// Assertions and generators shared by the protocol/ unit tests.
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { ID_PATTERN } from '../../protocol/ids';

const KNOWN_CODES: readonly string[] = Object.values(ErrorCode);

/** fn must throw a ProtocolError with exactly this code and field; returns it for further checks. */
export function expectProtocolError(fn: () => unknown, code: ErrorCode, field: string | undefined): ProtocolError {
  let returned: unknown;
  try {
    returned = fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    assert.is(e.code, code, `code (message: ${e.message})`);
    assert.is(e.field, field, `field (message: ${e.message})`);
    assert.ok(e.message.length > 0, 'a refusal carries a human message');
    return e;
  }
  return assert.unreachable(`expected ${code} on '${field}', but it returned ${JSON.stringify(returned)}`) as never;
}

/**
 * For properties over arbitrary input: fn's result, or undefined when it refuses with a well-formed
 * ProtocolError (a known code and a message). Anything else it throws propagates.
 */
export function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    assert.ok(KNOWN_CODES.includes(e.code), `unknown error code ${e.code}`);
    assert.ok(e.message.length > 0, 'a refusal carries a human message');
    return undefined;
  }
}

/** Any canonical id (agent, device, admin, job, evt stream). */
export const validId = (): fc.Arbitrary<string> => fc.stringMatching(ID_PATTERN).filter((s) => !s.includes('..'));

/** A 12-hex-digit MAC in canonical form. */
export const canonicalMac = (): fc.Arbitrary<string> => fc.stringMatching(/^[0-9a-f]{12}$/);

/** Look-alikes of ASCII characters that occur in ids and topics. */
export const LOOKALIKES: Readonly<Record<string, string>> = {
  a: '\u0430', // Cyrillic a
  c: '\u0441', // Cyrillic es
  e: '\u0435', // Cyrillic ie
  o: '\u043e', // Cyrillic o
  p: '\u0440', // Cyrillic er
  x: '\u0445', // Cyrillic ha
  '0': '\uff10', // fullwidth digits
  '1': '\uff11',
  '2': '\uff12',
  '6': '\uff16',
  '-': '\u2010', // hyphen
  '.': '\uff0e', // fullwidth full stop
  '/': '\u2215', // division slash
};
