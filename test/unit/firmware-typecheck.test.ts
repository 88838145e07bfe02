// The Moddable side of the firmware type-checks against the real Moddable typings
// (@moddable/typings, plus firmware/typings for the mqtt client it lacks), and a wrong
// Moddable API call is caught: the same check run on a copy with one call broken must fail
// with the diagnostic that names it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function typecheck(dir: string): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'firmware', 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A copy of what firmware/tsconfig.json reads, with one source line replaced. */
function brokenCopy(file: string, from: string, to: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fb-typecheck-'));
  cpSync(join(root, 'firmware'), join(dir, 'firmware'), { recursive: true });
  cpSync(join(root, 'protocol'), join(dir, 'protocol'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes(from), `${file} no longer contains "${from}"; update this test's deliberate mistake`);
  writeFileSync(path, text.replace(from, to));
  return dir;
}

const t = suite('firmware typecheck');

t('firmware/ type-checks against @moddable/typings', () => {
  const r = typecheck(root);
  assert.is(r.output.trim(), '', 'tsc printed diagnostics');
  assert.is(r.code, 0);
});

/** One deliberate mistake per Moddable API source: the SDK typings and our own mqtt declaration. */
const MISTAKES = [
  {
    name: 'a wrong argument to Timer.set (@moddable/typings)',
    file: 'firmware/platform/timer.ts',
    from: 'Timer.set(() => callback(), Math.max(0, ms))',
    to: 'Timer.set(callback(), Math.max(0, ms))',
    diagnostic: /firmware\/platform\/timer\.ts\(\d+,\d+\): error TS2345: Argument of type 'void' is not assignable to parameter of type 'TimerCallback'/,
  },
  {
    name: 'a wrong value type for Preference.set (@moddable/typings)',
    file: 'firmware/platform/prefs.ts',
    from: 'Preference.set(PREF_DOMAIN, key, value);',
    to: 'Preference.set(PREF_DOMAIN, key, [value]);',
    diagnostic:
      /firmware\/platform\/prefs\.ts\(\d+,\d+\): error TS2345: Argument of type 'string\[\]' is not assignable to parameter of type 'string \| number \| boolean \| ArrayBuffer'/,
  },
  {
    name: 'a wrong option for the mqtt client (firmware/typings)',
    file: 'firmware/platform/mqtt.ts',
    from: 'timeout: options.keepalive * 1000,',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the text is source code spliced into the firmware.
    to: 'timeout: `${options.keepalive}s`,',
    diagnostic: /firmware\/platform\/mqtt\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
  },
];

for (const m of MISTAKES) {
  t(`${m.name} fails the check`, () => {
    const dir = brokenCopy(m.file, m.from, m.to);
    try {
      const r = typecheck(dir);
      assert.is.not(r.code, 0);
      assert.match(r.output, m.diagnostic);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

t.run();
