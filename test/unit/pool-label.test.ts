// Location labels: parsing (URL or LOC.SIG, shared with the web app) and the broker's signature,
// which lives in its own domain so machine labels and location labels never stand in for each other.
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { parsePoolLabel, poolLabelPath } from '../../protocol/pool-label';
import { labelSignature, poolLabelSignature, verifyLabel, verifyPoolLabel } from '../../broker/labels';
import { expectProtocolError } from '../helpers/protocol';
import { suite } from '../helpers/suite';

const KEY = 'ab'.repeat(32);
const s = suite('location labels');

s('parses a label URL and LOC.SIG, normalising the location', () => {
  const sig = poolLabelSignature(KEY, 'hall-1');
  assert.equal(parsePoolLabel(`https://fleet.example${poolLabelPath('hall-1', sig)}`), { location: 'hall-1', sig });
  assert.equal(parsePoolLabel(`https://fleet.example/p/HALL-1.${sig.toUpperCase()}?x=1`), { location: 'hall-1', sig });
  assert.equal(parsePoolLabel(`hall-1.${sig}`), { location: 'hall-1', sig });
});

s('refuses what is not a location label', () => {
  for (const bad of ['', 'hall-1', 'hall-1.xyz', '/p/.0123456789abcdef', '/p/a b.0123456789abcdef', 42, null, 'x'.repeat(600)])
    expectProtocolError(() => parsePoolLabel(bad), ErrorCode.UNKNOWN_MACHINE, 'label');
});

s('signatures are per purpose: a machine label does not verify as a location label or the reverse', () => {
  const sig = poolLabelSignature(KEY, 'hall-1');
  assert.ok(verifyPoolLabel(KEY, 'hall-1', sig));
  assert.not.ok(verifyPoolLabel(KEY, 'hall-2', sig));
  assert.not.ok(verifyPoolLabel(KEY, 'hall-1', labelSignature(KEY, 'hall-1')));
  assert.not.ok(verifyLabel(KEY, 'HALL-1', sig));
  assert.not.ok(verifyPoolLabel('cd'.repeat(32), 'hall-1', sig));
});

s.run();
