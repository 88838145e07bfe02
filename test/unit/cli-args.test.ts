// The shared command-line reader: flags, FLEETBIND_* fallbacks, defaults and required options,
// one-line usage errors (exit 2) naming the flag, and help that wins over any other mistake.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ToolError } from '../../host-tools/api/errors';
import { defineCli, helpText, parseCli } from '../../host-tools/cli/args';

const t = suite('cli args');

const SPEC = defineCli({
  command: 'npm run demo --',
  usage: ['--count N [options]'],
  summary: 'A demo command.',
  options: {
    count: { type: 'string', value: 'N', required: true, help: 'how many' },
    host: { type: 'string', value: 'ADDR', env: 'DEMO_HOST', default: '127.0.0.1', help: 'where to connect' },
    tag: { type: 'string', value: 'T', multiple: true, help: 'a tag; may repeat' },
    verbose: { type: 'boolean', short: 'v', default: false, help: 'say more' },
  },
});

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ToolError);
    assert.is((e as ToolError).exitCode, 2);
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
}

t('flags win over the environment, which wins over the default', () => {
  assert.is(parseCli(SPEC, ['--count', '3'], {}).values.host, '127.0.0.1');
  assert.is(parseCli(SPEC, ['--count', '3'], { DEMO_HOST: '10.0.0.2' }).values.host, '10.0.0.2');
  assert.is(parseCli(SPEC, ['--count', '3', '--host', 'h'], { DEMO_HOST: '10.0.0.2' }).values.host, 'h');
  const v = parseCli(SPEC, ['--count', '3', '-v', '--tag', 'a', '--tag', 'b'], {}).values;
  assert.equal([v.count, v.verbose, v.tag], ['3', true, ['a', 'b']]);
});

t('a missing required option, an unknown option and a stray argument are usage errors naming the flag', () => {
  assert.match(
    usageMessage(() => parseCli(SPEC, [], {})),
    /^--count N is required: how many$/,
  );
  assert.match(
    usageMessage(() => parseCli(SPEC, ['--count', '1', '--cuont', '2'], {})),
    /Unknown option '--cuont'/,
  );
  assert.match(
    usageMessage(() => parseCli(SPEC, ['--count', '1', 'extra'], {})),
    /unexpected argument "extra"/,
  );
  assert.match(
    usageMessage(() => parseCli(SPEC, ['--count'], {})),
    /--count/,
  );
});

t('-h and --help win over every other mistake on the line, but not after --', () => {
  assert.ok(parseCli(SPEC, ['--help'], {}).help);
  assert.ok(parseCli(SPEC, ['--bogus', '-h'], {}).help);
  assert.ok(parseCli(SPEC, ['--count', '2', 'stray', '--help'], {}).help);
  assert.match(
    usageMessage(() => parseCli(SPEC, ['--count', '2', '--', '--help'], {})),
    /unexpected argument "--help"/,
  );
});

t('help lists every option with its value, default, variable and description, and the help option itself', () => {
  const text = helpText(SPEC);
  assert.match(text, /^usage: npm run demo -- --count N \[options\]\n\nA demo command\.\n/);
  assert.match(text, /\n {2}--count N +how many \(required\)\n/);
  assert.match(text, /\n {2}--host ADDR +where to connect \(default 127\.0\.0\.1\) {2}\[\$DEMO_HOST\]\n/);
  assert.match(text, /\n {2}--tag T +a tag; may repeat\n/);
  assert.match(text, /\n {2}-v, --verbose +say more\n/);
  assert.match(text, /\n {2}-h, --help +show this help and exit$/);
});

t('positionals are counted unless the command checks them itself', () => {
  const two = defineCli({ command: 'x', usage: ['<a> <b>'], summary: 's', options: {}, positionals: { '<a>': 'first', '<b>': 'second' } });
  assert.equal(parseCli(two, ['1', '2'], {}).positionals, ['1', '2']);
  assert.match(
    usageMessage(() => parseCli(two, ['1'], {})),
    /^expected <a> <b>, got "1"$/,
  );
  assert.match(helpText(two), /arguments:\n {2}<a> +first\n {2}<b> +second/);
  const free = defineCli({ command: 'x', usage: ['<cmd> ...'], summary: 's', options: {}, freePositionals: true });
  assert.equal(parseCli(free, ['a', 'b', 'c'], {}).positionals, ['a', 'b', 'c']);
});

t.run();
