// Shared by the NVS unit tests: where the reference images are, and how to expect a refusal.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { NvsError } from '../../host-tools/nvs/format';

export const REPO = join(import.meta.dirname, '..', '..');
export const LOCAL_FIXTURES = join(REPO, 'test', 'fixtures', 'nvs');
/** The lead's originals, beside the repo when it is checked out next to shared/. */
export const SHARED_FIXTURES = join(REPO, '..', 'shared', 'fixtures', 'nvs');
/** nvs_partition_gen.py made every reference image with this size (see the fixtures' README). */
export const FIXTURE_SIZE = 0x6000;

export function fixtureCases(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .map((f) => f.slice(0, -4))
    .sort();
}

export function fixtureDirs(): string[] {
  return existsSync(SHARED_FIXTURES) ? [LOCAL_FIXTURES, SHARED_FIXTURES] : [LOCAL_FIXTURES];
}

/** fn must throw an NvsError whose message matches; returns the message. */
export function expectNvsError(fn: () => unknown, message: RegExp): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof NvsError)) throw e;
    assert.match(e.message, message);
    assert.not.match(e.message, /\n/, 'a refusal is one line');
    return e.message;
  }
  assert.unreachable(`expected an NvsError matching ${message}`);
  return '';
}

export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  const i = a.findIndex((x, n) => x !== b[n]);
  return i < 0
    ? undefined
    : `first difference at 0x${i.toString(16)} (page ${i >> 12}, offset ${i & 0xfff}): 0x${a[i]!.toString(16)} vs 0x${b[i]!.toString(16)}`;
}
