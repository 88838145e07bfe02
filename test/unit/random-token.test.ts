// Generated secrets are pasted into shells (`simulate --enroll-token …`, `fleet login --password …`):
// none may begin with '-', which a command line reads as an option.
import * as assert from 'uvu/assert';
import { randomToken } from '../../broker/auth/secrets';
import { suite } from '../helpers/suite';

const test = suite('random tokens');

test('no token begins with a dash, at every length the broker draws; each is base64url of its length', () => {
  // 1 in 64 base64url draws begins with '-': 4,000 draws per length would give about 60 of them.
  for (const bytes of [6, 15, 18, 24, 32]) {
    for (let i = 0; i < 4_000; i++) {
      const t = randomToken(bytes);
      assert.not.ok(t.startsWith('-'), `randomToken(${bytes}) gave ${t}`);
      assert.is(Buffer.from(t, 'base64url').length, bytes);
    }
  }
});

test.run();
