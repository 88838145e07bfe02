// Every entry point answers -h and --help with exit 0 and a usage that describes each option,
// before it checks anything else (no SDK, database or broker needed to read the help).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runNpmScript } from '../helpers/npm-script';

const t = suite('every CLI answers --help');
const root = join(import.meta.dirname, '..', '..');
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The npm scripts that are commands a person runs with options (not typecheck or build steps). */
const ENTRY_POINTS = [
  'test',
  'start',
  'simulate',
  'flash',
  'build:firmware',
  'nvs',
  'labels',
  'fleet',
  'cluster',
  ...Object.keys(scripts).filter((s) => s.startsWith('bench:')),
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Option entries of the help's "options:" list, each with its description. */
function optionEntries(help: string): Array<{ flag: string; text: string }> {
  const section = help.split('\noptions:\n')[1];
  assert.ok(section, `no options: section in\n${help}`);
  const lines = section.split('\n\n')[0]!.split('\n');
  const out: Array<{ flag: string; text: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^ {2}(-\S.*?)(?: {2,}(\S.*))?$/.exec(lines[i]!);
    if (!m) continue;
    out.push({ flag: m[1]!, text: (m[2] ?? lines[i + 1]?.trim() ?? '').trim() });
  }
  return out;
}

t('the list covers every npm script that takes options', () => {
  for (const s of ENTRY_POINTS) assert.ok(scripts[s], `package.json has no script ${s}`);
  assert.ok(ENTRY_POINTS.length >= 12, ENTRY_POINTS.join(', '));
});

for (const script of ENTRY_POINTS) {
  t(`${script} --help and -h: exit 0, usage on stdout, every option described`, async () => {
    // No $MODDABLE, no database: help must not depend on either.
    const env = { MODDABLE: undefined, IDF_PATH: undefined, FLEETBIND_DATABASE_URL: undefined };
    const [long, short] = await Promise.all([runNpmScript(script, ['--help'], env), runNpmScript(script, ['-h'], env)]);
    for (const r of [long, short]) {
      assert.is(r.code, 0, `${script}: exit ${r.code}\n${r.stderr}`);
      assert.is(r.stderr, '', `${script} wrote to stderr:\n${r.stderr}`);
      assert.match(r.stdout, /^usage: /);
    }
    assert.is(short.stdout, long.stdout);
    const entries = optionEntries(long.stdout);
    assert.ok(
      entries.some((e) => e.flag === '-h, --help'),
      `${script} does not list --help`,
    );
    for (const e of entries) assert.ok(e.text.length >= 8, `${script}: option ${e.flag} has no description`);
  });
}

t('no entry point parses its arguments apart from the shared reader', () => {
  const own = ['broker', 'host-tools', 'scripts', 'bench']
    .flatMap((d) => sources(join(root, d)))
    .filter((f) => !f.endsWith(join('host-tools', 'cli', 'args.ts')));
  const offenders = own.filter((f) => /import\s*\{[^}]*\bparseArgs\b[^}]*\}\s*from\s*'node:util'/.test(readFileSync(f, 'utf8')));
  assert.equal(
    offenders.map((f) => relative(root, f)),
    [],
  );
});

t('fleet: each command has its own help', async () => {
  const r = await runNpmScript('fleet', ['agent', 'add', '--help']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: npm run fleet -- agent add <id> --name NAME/);
});

t('an unknown option is one line naming it, a pointer to --help, and exit 2', async () => {
  const r = await runNpmScript('simulate', ['--devcies', '3']);
  assert.is(r.code, 2);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^simulate: Unknown option '--devcies'\n\(npm run simulate -- --help lists the options\)\n$/);
});

t.run();
