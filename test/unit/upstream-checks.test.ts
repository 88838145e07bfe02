// The reach-ins into upstream internals (broker/upstream/) find what they rely on in the
// installed versions, and refuse at start, naming the file to review, when it is not there.
import { Aedes } from 'aedes';
import * as assert from 'uvu/assert';
import { aedesInternals } from '../../broker/upstream/aedes';
import { guardRecursion } from '../../broker/upstream/mq-guard';
import { suite } from '../helpers/suite';

const t = suite('upstream internals');

t('the installed aedes has its emitter and its clients where the broker reaches for them', async () => {
  const aedes = await Aedes.createBroker();
  const internals = aedesInternals(aedes);
  assert.type((internals.mq as { emit?: unknown }).emit, 'function');
  assert.equal(internals.clients(), []);
  await new Promise<void>((res) => aedes.close(() => res()));
});

t('an aedes without them is refused with the file to review', () => {
  assert.throws(() => aedesInternals({} as Aedes), /aedes internals changed \(mq, clients\): review broker\/upstream\/aedes\.ts/);
});

t('an emitter without the drain internals is refused with the file to review', () => {
  assert.throws(() => guardRecursion({ on() {}, emit() {} }), /mqemitter internals changed .*review broker\/upstream\/mq-guard\.ts/);
});

t.run();
