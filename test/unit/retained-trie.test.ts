import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RetainedTrie } from '../../broker/retained-trie';

// qlobber is the matcher aedes-persistence's memory store uses: the trie must agree with it,
// with `+` matching an empty level as MQTT 3.1.1 §4.7.1.3 says ('+/+' matches '/finance').
interface Matcher {
  add(filter: string): void;
  test(topic: string): boolean;
}
const { QlobberTrue } = createRequire(import.meta.url)('qlobber') as { QlobberTrue: new (o: object) => Matcher };
function upstreamMatches(filter: string, topic: string): boolean {
  const q = new QlobberTrue({ wildcard_one: '+', wildcard_some: '#', separator: '/', match_empty_levels: true });
  q.add(filter);
  return q.test(topic);
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

const t = suite('retained trie');

t('exact, + and # filters, and # matching its parent level (MQTT 4.7.1.2)', () => {
  const trie = new RetainedTrie<string>();
  for (const topic of ['fb/dev/A/status', 'fb/dev/A/config', 'fb/dev/B/status', 'fb/agent/7/bindings', 'fb', 'fb/dev']) trie.set(topic, topic);
  assert.equal(sorted(trie.match('fb/dev/A/status')), ['fb/dev/A/status']);
  assert.equal(sorted(trie.match('fb/dev/+/status')), ['fb/dev/A/status', 'fb/dev/B/status']);
  assert.equal(sorted(trie.match('fb/dev/#')), ['fb/dev', 'fb/dev/A/config', 'fb/dev/A/status', 'fb/dev/B/status']);
  assert.equal(sorted(trie.match('+/+')), ['fb/dev']);
  assert.equal(sorted(trie.match('fb/dev/C/status')), []);
  assert.equal(sorted(trie.match('fb/dev/A')), []);
  assert.equal(trie.size, 6);
});

t('+ matches an empty level, as in the examples of MQTT 3.1.1 §4.7.1.3', () => {
  const trie = new RetainedTrie<string>();
  trie.set('/finance', '/finance');
  assert.equal([...trie.match('+/+')], ['/finance']);
  assert.equal([...trie.match('/+')], ['/finance']);
  assert.equal([...trie.match('+')], []);
});

t('a filter starting with a wildcard does not match $ topics (MQTT 4.7.2-1)', () => {
  const trie = new RetainedTrie<string>();
  for (const topic of ['$SYS/broker/x', 'a/b']) trie.set(topic, topic);
  assert.equal(sorted(trie.match('#')), ['a/b']);
  assert.equal(sorted(trie.match('+/broker/x')), []);
  assert.equal(sorted(trie.match('$SYS/#')), ['$SYS/broker/x']);
  assert.equal(sorted(trie.match('$SYS/+/x')), ['$SYS/broker/x']);
});

t('replacing keeps one value; deleting prunes the branch', () => {
  const trie = new RetainedTrie<number>();
  trie.set('a/b/c', 1);
  trie.set('a/b/c', 2);
  assert.equal([...trie.match('a/b/c')], [2]);
  assert.equal(trie.size, 1);
  trie.set('a', 3);
  assert.ok(trie.delete('a/b/c'));
  assert.not.ok(trie.delete('a/b/c'));
  assert.not.ok(trie.delete('a/b'));
  assert.equal([...trie.match('#')], [3]);
  assert.ok(trie.delete('a'));
  assert.equal(trie.size, 0);
  assert.equal((trie as unknown as { root: { children: Map<string, unknown> | null } }).root.children?.size ?? 0, 0);
});

t('matches exactly what upstream qlobber matches, over random topics and filters', () => {
  const level = fc.constantFrom('a', 'b', 'c', '', 'dev', '7');
  // Topic names are at least one character long (MQTT 4.7.3-1).
  const topic = fc
    .array(level, { minLength: 1, maxLength: 4 })
    .map((ls) => ls.join('/'))
    .filter((tp) => tp.length > 0);
  const filterLevel = fc.constantFrom('a', 'b', '', 'dev', '+');
  const filter = fc
    .tuple(fc.array(filterLevel, { minLength: 0, maxLength: 4 }), fc.boolean())
    .filter(([ls, hash]) => ls.length > 0 || hash)
    .map(([ls, hash]) => [...ls, ...(hash ? ['#'] : [])].join('/'));
  fc.assert(
    fc.property(
      fc.uniqueArray(topic, { maxLength: 30 }),
      fc.array(filter, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (topics, filters, deletions) => {
        const trie = new RetainedTrie<string>();
        for (const tp of topics) trie.set(tp, tp);
        const kept = new Set(topics);
        for (const d of deletions) {
          if (topics.length === 0) break;
          const victim = topics[d % topics.length]!;
          assert.is(trie.delete(victim), kept.delete(victim));
        }
        assert.is(trie.size, kept.size);
        for (const f of filters) assert.equal(sorted(trie.match(f)), sorted([...kept].filter((tp) => upstreamMatches(f, tp))), `filter ${f}`);
      },
    ),
    { numRuns: 500 },
  );
});

t.run();
