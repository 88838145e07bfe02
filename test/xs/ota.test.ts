// The device's update path (ota-scenarios.ts) on Node and inside the real XS engine. A restart
// is a fresh engine booted with the preferences the previous one left, as NVS survives a reboot.
import { suite } from 'uvu';
import { makeDriver, type CoreDriver, type Engine } from './harness/drivers';
import { Peer } from './harness/peer';
import { otaScenarios } from './ota-scenarios';

for (const engine of ['node', 'xs'] as Engine[]) {
  const test = suite(`firmware OTA on ${engine}`);
  for (const [name, run] of Object.entries(otaScenarios)) {
    test(name, async () => {
      const drivers: CoreDriver[] = [];
      const next = async (): Promise<Peer> => {
        const d = await makeDriver(engine);
        drivers.push(d);
        return new Peer(d);
      };
      try {
        await run(await next(), next);
      } finally {
        for (const d of drivers) await d.close();
      }
    });
  }
  test.run();
}
