import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ADMIN_LEAVES,
  AGENT_LEAVES,
  DEVICE_LEAVES,
  type ParsedTopic,
  adminTopic,
  agentTopic,
  deviceTopic,
  enrollReplyTopic,
  enrollTopic,
  eventTopic,
  parseTopic,
  topicOf,
} from '../../protocol/topics';
import { LOOKALIKES, canonicalMac, validId } from '../helpers/protocol';

const DEV = 'esp32-a4cf12b4c9e0';
const MAC = 'a4cf12b4c9e0';

/** Every shape in the tree, built from valid ids. */
const parsedTopic: fc.Arbitrary<ParsedTopic> = fc.oneof(
  fc.record({ kind: fc.constant('device' as const), device: validId(), leaf: fc.constantFrom(...DEVICE_LEAVES) }),
  fc.record({ kind: fc.constant('device' as const), device: validId(), leaf: fc.constant('evt' as const), stream: validId() }),
  fc.record({ kind: fc.constant('agent' as const), agent: validId(), leaf: fc.constantFrom(...AGENT_LEAVES) }),
  fc.record({ kind: fc.constant('admin' as const), admin: validId(), leaf: fc.constantFrom(...ADMIN_LEAVES) }),
  fc.record({ kind: fc.constant('enroll' as const), mac: canonicalMac(), reply: fc.boolean() }),
);
const validTopic = parsedTopic.map(topicOf);

/** Picks one index of `s` whose character satisfies `test`; the topics used always have one. */
function positionWhere(s: string, test: (ch: string) => boolean): fc.Arbitrary<number> {
  const positions = [...s].flatMap((ch, i) => (test(ch) ? [i] : []));
  return fc.constantFrom(...positions);
}
const replaceAt = (s: string, i: number, by: string): string => s.slice(0, i) + by + s.slice(i + 1);
const segments = (topic: string): string[] => topic.split('/');

const build = suite('topics: builders');

build('each builder gives the topic docs/architecture.md names, which parses back to its structure', () => {
  const cases: [string, string, ParsedTopic][] = [
    ...DEVICE_LEAVES.map((leaf): [string, string, ParsedTopic] => [deviceTopic(DEV, leaf), `fb/v1/d/${DEV}/${leaf}`, { kind: 'device', device: DEV, leaf }]),
    [eventTopic(DEV, 'telemetry'), `fb/v1/d/${DEV}/evt/telemetry`, { kind: 'device', device: DEV, leaf: 'evt', stream: 'telemetry' }],
    ...AGENT_LEAVES.map((leaf): [string, string, ParsedTopic] => [agentTopic('263', leaf), `fb/v1/a/263/${leaf}`, { kind: 'agent', agent: '263', leaf }]),
    ...ADMIN_LEAVES.map((leaf): [string, string, ParsedTopic] => [adminTopic('ops', leaf), `fb/v1/admin/ops/${leaf}`, { kind: 'admin', admin: 'ops', leaf }]),
    [enrollTopic(MAC), `fb/v1/enroll/${MAC}`, { kind: 'enroll', mac: MAC, reply: false }],
    [enrollReplyTopic(MAC), `fb/v1/enroll/${MAC}/reply`, { kind: 'enroll', mac: MAC, reply: true }],
  ];
  for (const [built, expected, structure] of cases) {
    assert.is(built, expected);
    assert.equal(parseTopic(built), structure, built);
    assert.is(topicOf(structure), built);
  }
});

build('for any valid ids, the builders output parses back to the same structure', () => {
  fc.assert(
    fc.property(parsedTopic, (p) => {
      // fast-check records have a null prototype; compare as plain objects.
      assert.equal(parseTopic(topicOf(p)), { ...p });
    }),
  );
  fc.assert(
    fc.property(validId(), validId(), canonicalMac(), (id, stream, mac) => {
      for (const leaf of DEVICE_LEAVES) assert.equal(parseTopic(deviceTopic(id, leaf)), { kind: 'device', device: id, leaf });
      assert.equal(parseTopic(eventTopic(id, stream)), { kind: 'device', device: id, leaf: 'evt', stream });
      for (const leaf of AGENT_LEAVES) assert.equal(parseTopic(agentTopic(id, leaf)), { kind: 'agent', agent: id, leaf });
      for (const leaf of ADMIN_LEAVES) assert.equal(parseTopic(adminTopic(id, leaf)), { kind: 'admin', admin: id, leaf });
      assert.equal(parseTopic(enrollTopic(mac)), { kind: 'enroll', mac, reply: false });
      assert.equal(parseTopic(enrollReplyTopic(mac)), { kind: 'enroll', mac, reply: true });
    }),
  );
});

build('the parser is canonical: anything it accepts is exactly the topic its structure builds', () => {
  const topicAlphabet = fc.constantFrom(...'fbv1/daminelrolyqsthcjk0123456789._-+#A\u0430'.split(''), 'fb/v1/', 'evt', 'reply', 'status', 'req');
  const topicish = fc.array(topicAlphabet, { maxLength: 20 }).map((parts) => parts.join(''));
  fc.assert(
    fc.property(fc.oneof(fc.string(), topicish, validTopic), (s) => {
      const p = parseTopic(s);
      if (p !== null) assert.is(topicOf(p), s);
    }),
  );
});

build.run();

const reject = suite('topics: malformed topics parse to null');

reject('wildcards + and # in any segment or inside one', () => {
  fc.assert(
    fc.property(
      validTopic.chain((t) => fc.tuple(fc.constant(t), fc.nat(segments(t).length - 1), fc.constantFrom('+', '#'), fc.boolean())),
      ([t, i, wild, whole]) => {
        const parts = segments(t);
        parts[i] = whole ? wild : parts[i] + wild;
        assert.is(parseTopic(parts.join('/')), null, parts.join('/'));
      },
    ),
  );
  assert.is(parseTopic('fb/v1/d/+/status'), null);
  assert.is(parseTopic('fb/v1/d/#'), null);
  assert.is(parseTopic('fb/v1/a/+/req'), null);
});

reject('an empty segment anywhere (leading, doubled or trailing slash)', () => {
  fc.assert(
    fc.property(
      validTopic.chain((t) => fc.tuple(fc.constant(t), fc.nat(segments(t).length))),
      ([t, i]) => {
        const parts = segments(t);
        parts.splice(i, 0, '');
        assert.is(parseTopic(parts.join('/')), null, parts.join('/'));
      },
    ),
  );
  assert.is(parseTopic(''), null);
  assert.is(parseTopic('fb/v1/d//status'), null);
  assert.is(parseTopic(`fb/v1/d/${DEV}/evt/`), null);
});

reject('an id longer than 64 characters; exactly 64 is fine', () => {
  const long = 'a'.repeat(65);
  assert.ok(parseTopic(deviceTopic('a'.repeat(64), 'status')));
  assert.is(parseTopic(deviceTopic(long, 'status')), null);
  assert.is(parseTopic(eventTopic(DEV, long)), null);
  assert.is(parseTopic(agentTopic(long, 'req')), null);
  assert.is(parseTopic(adminTopic(long, 'req')), null);
  fc.assert(
    fc.property(parsedTopic, fc.stringMatching(/^[a-z0-9][a-z0-9_-]{64,100}$/), (p, id) => {
      const topic =
        p.kind === 'device'
          ? deviceTopic(id, 'hello')
          : p.kind === 'agent'
            ? agentTopic(id, p.leaf)
            : p.kind === 'admin'
              ? adminTopic(id, p.leaf)
              : enrollTopic(id);
      assert.is(parseTopic(topic), null, topic);
    }),
  );
});

reject("'..' and ids starting with '.', '_' or '-'", () => {
  for (const id of ['..', 'a..b', '.a', '_a', '-a', '.']) {
    assert.is(parseTopic(deviceTopic(id, 'status')), null, id);
    assert.is(parseTopic(eventTopic(DEV, id)), null, id);
    assert.is(parseTopic(agentTopic(id, 'req')), null, id);
    assert.is(parseTopic(adminTopic(id, 'res')), null, id);
  }
});

reject('upper case anywhere (ids, MACs, leaves, namespaces, prefix)', () => {
  fc.assert(
    fc.property(
      validTopic.chain((t) =>
        fc.tuple(
          fc.constant(t),
          positionWhere(t, (ch) => ch >= 'a' && ch <= 'z'),
        ),
      ),
      ([t, i]) => {
        const upper = replaceAt(t, i, t.charAt(i).toUpperCase());
        assert.is(parseTopic(upper), null, upper);
      },
    ),
  );
  assert.is(parseTopic(enrollTopic(MAC.toUpperCase())), null);
});

reject('a unicode look-alike of any character', () => {
  fc.assert(
    fc.property(
      validTopic.chain((t) =>
        fc.tuple(
          fc.constant(t),
          positionWhere(t, (ch) => ch in LOOKALIKES),
        ),
      ),
      ([t, i]) => {
        const spoofed = replaceAt(t, i, LOOKALIKES[t.charAt(i)]!);
        assert.is(parseTopic(spoofed), null, spoofed);
      },
    ),
  );
  assert.is(parseTopic('fb/v1/d/esp32-\u0430\u0434cf12b4c9e0/status'), null);
  assert.is(parseTopic('fb/v1/a/\uff12\uff16\uff13/req'), null);
  assert.is(parseTopic('fb/v1/a/\u212aate/req'), null);
});

reject('an extra segment', () => {
  fc.assert(
    fc.property(validTopic, validId(), fc.boolean(), (t, extra, atEnd) => {
      fc.pre(!(atEnd && extra === 'reply'));
      const parts = segments(t);
      parts.splice(atEnd ? parts.length : 2, 0, extra);
      assert.is(parseTopic(parts.join('/')), null, parts.join('/'));
    }),
  );
});

/** Namespaces and leaves: the words of the tree's own structure. */
const TREE_WORDS = new Set<string>(['d', 'a', 'admin', 'o', 'enroll', ...DEVICE_LEAVES, 'evt', ...AGENT_LEAVES, ...ADMIN_LEAVES, 'reply']);

reject('a missing segment', () => {
  // An id or stream spelled like a word of the tree can slide into that word's place and make
  // another valid topic: admin "o" without "admin/" is order "res"'s topic, a stream "status"
  // without "evt/" is the device's status. Those are the other topics, exactly, and are left out.
  assert.equal(parseTopic('fb/v1/o/res'), { kind: 'order', order: 'res' });
  assert.equal(parseTopic(`fb/v1/d/${DEV}/status`), { kind: 'device', device: DEV, leaf: 'status' });
  const unlikeTheTree = validTopic.filter((t) => {
    const [, , , id, , stream] = segments(t);
    return !TREE_WORDS.has(id!) && (stream === undefined || !TREE_WORDS.has(stream));
  });
  fc.assert(
    fc.property(
      unlikeTheTree.chain((t) => fc.tuple(fc.constant(t), fc.nat(segments(t).length - 1))),
      ([t, i]) => {
        const parts = segments(t);
        // Dropping "reply" from an enrollment reply topic leaves the enrollment topic itself.
        fc.pre(!(parts[i] === 'reply' && i === parts.length - 1));
        parts.splice(i, 1);
        assert.is(parseTopic(parts.join('/')), null, parts.join('/'));
      },
    ),
  );
  assert.is(parseTopic(`fb/v1/d/${DEV}`), null);
  assert.is(parseTopic(`fb/v1/d/${DEV}/evt`), null);
  assert.is(parseTopic('fb/v1/enroll'), null);
});

reject('an unknown leaf or namespace, or another prefix', () => {
  const knownLeaves = new Set<string>([...DEVICE_LEAVES, 'evt', ...AGENT_LEAVES, ...ADMIN_LEAVES, 'reply']);
  fc.assert(
    fc.property(
      validId().filter((s) => !knownLeaves.has(s)),
      validId().filter((s) => !['d', 'a', 'admin', 'enroll'].includes(s)),
      (leaf, ns) => {
        assert.is(parseTopic(`fb/v1/d/${DEV}/${leaf}`), null);
        assert.is(parseTopic(`fb/v1/a/263/${leaf}`), null);
        assert.is(parseTopic(`fb/v1/admin/ops/${leaf}`), null);
        assert.is(parseTopic(`fb/v1/enroll/${MAC}/${leaf}`), null);
        assert.is(parseTopic(`fb/v1/${ns}/${DEV}/status`), null);
      },
    ),
  );
  // Leaves belong to their namespace: an agent has no status, a device no req, an admin no bindings.
  assert.is(parseTopic('fb/v1/a/263/status'), null);
  assert.is(parseTopic(`fb/v1/d/${DEV}/req`), null);
  assert.is(parseTopic('fb/v1/admin/ops/bindings'), null);
  assert.is(parseTopic(`fb/v2/d/${DEV}/status`), null);
  assert.is(parseTopic(`fbx/v1/d/${DEV}/status`), null);
  assert.is(parseTopic(`$SYS/fb/v1/d/${DEV}/status`), null);
});

reject('an enrollment topic whose MAC is not 12 lower-case hex digits', () => {
  for (const mac of ['a4:cf:12:b4:c9:e0', 'a4cf12b4c9e', 'a4cf12b4c9e0f', 'g4cf12b4c9e0', DEV]) {
    assert.is(parseTopic(enrollTopic(mac)), null, mac);
    assert.is(parseTopic(enrollReplyTopic(mac)), null, mac);
  }
});

reject.run();
