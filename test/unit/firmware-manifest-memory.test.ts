// The manifest's memory settings (docs/architecture.md, Firmware): every board has creation
// sizes that hold the measured peak with a margin, and the core's modules are preloaded (run
// from flash), with no stale entries.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { coreModules } from '../../bench/lib/firmware-modules';
import { repoPath } from '../xs/harness/bundle';

const t = suite('manifest: memory budgets and preload');
interface Creation {
  static?: number;
  chunk?: { initial: number; incremental: number };
  heap?: { initial: number; incremental: number };
  stack?: number;
}
const manifest = JSON.parse(readFileSync(repoPath('manifest.json'), 'utf8')) as { preload: string[]; platforms: Record<string, { creation?: Creation }> };

/** Measured on a Moddable lin build (docs/architecture.md, Firmware): stack slots, heap slots, chunk bytes. */
const MEASURED = { stack: 285, heap: 3072, chunk: 32 * 1024 };
const MARGIN = 1.25;

t('every board has creation sizes above the measured peak with a margin', () => {
  for (const [board, p] of Object.entries(manifest.platforms)) {
    if (board === '...') continue;
    const c = p.creation;
    assert.ok(c, `${board} has no creation sizes`);
    assert.is(c!.static, 0, `${board}: separate chunk and slot heaps, sized below`);
    assert.ok(c!.stack! >= MEASURED.stack * MARGIN, `${board}: stack ${c!.stack}`);
    assert.ok(c!.heap!.initial >= MEASURED.heap * MARGIN, `${board}: heap ${c!.heap!.initial}`);
    assert.ok(c!.chunk!.initial >= MEASURED.chunk * MARGIN, `${board}: chunk ${c!.chunk!.initial}`);
  }
});

t('preload names only modules that exist in the core, and holds the core and the protocol it speaks', async () => {
  const core = await coreModules();
  for (const m of manifest.preload) {
    assert.ok(existsSync(repoPath(`${m}.ts`)), `preload names ${m}, which does not exist`);
    assert.ok(core.includes(m), `preload names ${m}, which the core does not load`);
  }
  for (const m of [
    'firmware/core/core',
    'firmware/core/job-runner',
    'firmware/core/mqtt-session',
    'firmware/core/handlers/index',
    'protocol/messages',
    'protocol/validate',
    'protocol/screen-fit',
  ]) {
    assert.ok(manifest.preload.includes(m), `${m} is not preloaded`);
  }
  const missing = core.filter((m) => !manifest.preload.includes(m));
  if (missing.length > 0) console.log(`  core modules not preloaded (they load into RAM): ${missing.join(', ')}`);
});

t.run();
