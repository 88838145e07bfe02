// A node's later parts (MQTT, the job system, the features on it) are missing out loud until their
// start step provides them, and are provided once (docs/architecture.md, How a node starts).
import * as assert from 'uvu/assert';
import type { CoreContext } from '../../broker/context';
import type { Jobs } from '../../broker/jobs/index';
import { withLateParts } from '../../broker/start/late-parts';
import { suite } from '../helpers/suite';

const t = suite('late context parts');

t('a part used before its step provides it throws with its name; once provided it is that value', () => {
  const ctx = withLateParts({ closing: false } as CoreContext);
  assert.throws(() => ctx.jobs, /the broker's jobs was used before its start step provided it/);
  assert.throws(() => ctx.aedes, /the broker's aedes was used before/);
  const jobs = { stop: async () => undefined } as unknown as Jobs;
  ctx.jobs = jobs;
  assert.is(ctx.jobs, jobs);
  assert.is(ctx.closing, false, 'the core parts are untouched');
});

t('a part provided twice throws and keeps the first', () => {
  const ctx = withLateParts({} as CoreContext);
  const first = { stop: async () => undefined } as unknown as Jobs;
  ctx.jobs = first;
  assert.throws(() => {
    ctx.jobs = { stop: async () => undefined } as unknown as Jobs;
  }, /the broker's jobs was provided twice/);
  assert.is(ctx.jobs, first);
});

t.run();
