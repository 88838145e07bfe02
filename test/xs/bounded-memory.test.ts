// Bounded memory on the real engine: after a warm-up, thousands more jobs and configs must not
// grow the XS heap. Measured in heap slots after gc(), as xsnap-worker reports them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { xsDriver } from './harness/drivers';
import { Peer } from './harness/peer';

const test = suite('firmware core on xs: bounded memory');

test('3000 jobs and configs after a warm-up leave the XS heap where it was', async () => {
  const driver = await xsDriver();
  const peer = new Peer(driver);
  try {
    await peer.boot();
    await peer.online();
    let n = 0;
    const traffic = async (count: number): Promise<void> => {
      for (const end = n + count; n < end; n++) {
        const runs = n % 3 === 0;
        await peer.cmd(`job-${n}`, runs ? 'identify' : 'print.photo', runs ? { seconds: 1 } : {});
        await peer.advance(1_000);
        await peer.deliver('config', { agent: { id: `agent-${n}`, name: `Agent ${n} `.repeat(10) }, settings: { n } });
      }
    };
    await traffic(300);
    const warm = await driver.heapAfterGc();
    await traffic(3_000);
    const after = await driver.heapAfterGc();
    assert.ok(after - warm <= warm / 100, `heap grew from ${warm} to ${after} slots`);
    assert.is((await peer.stats()).stats.rememberedJobs, 32);
    peer.assertHealthy();
  } finally {
    await driver.close();
  }
});

test.run();
