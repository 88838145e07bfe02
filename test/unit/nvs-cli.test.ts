// The command line, run as a real process: `npm run nvs -- generate <csv> <bin> <size>`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_SIZE, LOCAL_FIXTURES, REPO, fixtureCases, firstDifference } from '../helpers/nvs';

const test = suite('nvs: cli');
const CLI = join(REPO, 'host-tools', 'nvs', 'cli.ts');
let dir = '';

function nvs(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function csv(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `key,type,encoding,value\n${body}\n`);
  return path;
}

/** One line on stderr, a non-zero exit, and no output file. */
function refuses(args: string[], message: RegExp): void {
  const out = args[2]!;
  const r = nvs(...args);
  assert.is.not(r.code, 0, 'exit code');
  assert.is(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.is(r.stdout, '');
  assert.not.ok(existsSync(out), 'no output file is written');
}

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nvs-cli-'));
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('generates the reference image for every fixture, size given in hex', () => {
  for (const name of fixtureCases(LOCAL_FIXTURES)) {
    const out = join(dir, `${name}.bin`);
    const r = nvs('generate', join(LOCAL_FIXTURES, `${name}.csv`), out, `0x${FIXTURE_SIZE.toString(16)}`);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^created .*${name}\\.bin: 24576 bytes, \\d+ entries\\n$`));
    assert.is(firstDifference(new Uint8Array(readFileSync(out)), new Uint8Array(readFileSync(join(LOCAL_FIXTURES, `${name}.bin`)))), undefined, name);
  }
});

test('the npm script runs it, size given in decimal', () => {
  const out = join(dir, 'npm.bin');
  const r = spawnSync('npm', ['run', '--silent', 'nvs', '--', 'generate', join(LOCAL_FIXTURES, 'basic.csv'), out, String(FIXTURE_SIZE)], {
    cwd: REPO,
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  assert.ok(readFileSync(out).equals(readFileSync(join(LOCAL_FIXTURES, 'basic.bin'))));
});

test('refuses a bad size', () => {
  const input = join(LOCAL_FIXTURES, 'basic.csv');
  refuses(
    ['generate', input, join(dir, 'a.bin'), '0x2000'],
    /^nvs: partition size 0x2000 is too small: a read\/write NVS partition needs at least 0x3000 bytes\n$/,
  );
  refuses(['generate', input, join(dir, 'b.bin'), '12345'], /^nvs: partition size 0x3039 is not a multiple of 4096/);
  refuses(['generate', input, join(dir, 'c.bin'), '6000h'], /^nvs: size "6000h" is not a decimal or 0x-hex number\n$/);
});

test('refuses input that does not fit, naming the line', () => {
  const rows = Array.from({ length: 40 }, (_, i) => `s${i},data,string,${'v'.repeat(200)}`);
  refuses(
    ['generate', csv('big.csv', ['fb,namespace,,', ...rows].join('\n')), join(dir, 'big.bin'), '0x3000'],
    /^nvs: line \d+: key "s\d+" does not fit: a partition of 0x3000 bytes has 2 data pages/,
  );
});

test('refuses a long key, a long string, an out-of-range value and a malformed line, naming the line', () => {
  refuses(
    ['generate', csv('key.csv', 'fb,namespace,,\nthis-key-is-too-long,data,u8,1'), join(dir, 'k.bin'), '0x6000'],
    /^nvs: line 3: key "this-key-is-too-long" is 20 bytes long; NVS allows at most 15\n$/,
  );
  refuses(
    ['generate', csv('ns.csv', 'this-namespace-too-long,namespace,,'), join(dir, 'n.bin'), '0x6000'],
    /^nvs: line 2: namespace "this-namespace-too-long" is 23 bytes long/,
  );
  refuses(
    ['generate', csv('str.csv', `fb,namespace,,\ncert,data,string,${'x'.repeat(4001)}`), join(dir, 's.bin'), '0x6000'],
    /^nvs: line 3: key "cert": string is 4001 bytes/,
  );
  refuses(
    ['generate', csv('range.csv', 'fb,namespace,,\nport,data,u16,70000'), join(dir, 'r.bin'), '0x6000'],
    /^nvs: line 3: key "port": 70000 is out of range for u16 \(0\.\.65535\)\n$/,
  );
  refuses(['generate', csv('enc.csv', 'fb,namespace,,\nx,data,float,1.5'), join(dir, 'e.bin'), '0x6000'], /^nvs: line 3: key "x": unknown encoding "float"/);
  refuses(['generate', csv('quote.csv', 'fb,namespace,,\nx,data,string,"open'), join(dir, 'q.bin'), '0x6000'], /^nvs: line 3: quoted field is never closed\n$/);
});

test('refuses a missing CSV and wrong usage', () => {
  refuses(['generate', join(dir, 'nope.csv'), join(dir, 'x.bin'), '0x6000'], /^nvs: cannot read CSV .*nope\.csv: ENOENT\n$/);
  const r = nvs('convert', 'a', 'b', 'c');
  assert.is(r.code, 2);
  assert.match(r.stderr, /^nvs: unknown command "convert" \(npm run nvs -- --help lists the commands\)/);
  const short = nvs('generate', 'only-one');
  assert.is(short.code, 2);
  assert.match(short.stderr, /^nvs: expected generate <input\.csv> <output\.bin> <size>, got "generate" "only-one"/);
});

test.run();
