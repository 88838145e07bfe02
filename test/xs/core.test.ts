// The device core's scenarios, run on Node and inside the real XS engine (xsnap-worker).
import { suite } from 'uvu';
import { makeDriver, type Engine } from './harness/drivers';
import { Peer } from './harness/peer';
import { scenarios } from './core-scenarios';
import { stateScenarios } from './state-scenarios';
import { transportScenarios } from './transport-scenarios';

for (const engine of ['node', 'xs'] as Engine[]) {
  const test = suite(`firmware core on ${engine}`);
  for (const [name, run] of Object.entries({ ...scenarios, ...transportScenarios, ...stateScenarios })) {
    test(name, async () => {
      const driver = await makeDriver(engine);
      try {
        await run(new Peer(driver));
      } finally {
        await driver.close();
      }
    });
  }
  test.run();
}
