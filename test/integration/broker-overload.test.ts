// Overload shedding (docs/architecture.md, Shutdown and overload): when more clients connect at
// once than the broker authenticates at a time (--max-pending-auth, small here), the surplus is
// answered CONNACK 3 (server unavailable) at once instead of waiting until everyone times out.
// Every connect ends accepted or refused with 3, the refused ones get in on retry, and a device
// and agent connected before keep exchanging jobs throughout.
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { PASSWORD_COST, hashSecret } from '../../broker/auth/secrets';
import { TestBroker } from '../helpers/broker';
import { JobDevice } from '../helpers/job-device';
import { type Agent, claim, identify, jobIn, submitOk } from '../helpers/jobs';
import { connect, end } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import type { Dev } from '../scenarios/fleet';

const STORM = 150;
let tb: TestBroker;
const s = suite('overload shedding');
s.before(async () => {
  tb = await TestBroker.start({ maxPendingAuth: 4 });
});
s.after(async () => {
  await tb?.stop();
});

const connectDev = (d: Dev): Promise<MqttClient | Error> =>
  connect(tb.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret, connectTimeout: 30_000 }).catch((e: Error) => e);

s(`${STORM} devices connecting at once: the surplus is told CONNACK 3, the accepted stay healthy`, async () => {
  const a = (await tb.agent('canary')) as Agent;
  const canaryDev = await tb.provision();
  const canary = await JobDevice.connect(tb.broker.mqttUrl, canaryDev, { durationMs: 5 });
  await claim(a, canaryDev.id);
  const devs: Dev[] = [];
  for (let i = 0; i < STORM; i++) devs.push(await tb.provision());
  // Secrets stored as an older broker stored them (scrypt, checked on the thread pool): the
  // fleet reconnecting after an upgrade, the costliest authentication there is.
  for (const d of devs)
    await tb.ctx.db
      .updateTable('devices')
      .set({ secret_hash: await hashSecret(d.secret, PASSWORD_COST) })
      .where('id', '=', d.id)
      .execute();

  let storming = true;
  let canaryJobs = 0;
  const canaryLoop = (async () => {
    while (storming) {
      await jobIn(tb, await submitOk(a, identify(canaryDev.id)), ['done'], tb.adminToken, 20_000);
      canaryJobs++;
    }
  })();
  // Checked at the end; until then a failure must not surface as an unhandled rejection.
  canaryLoop.catch(() => undefined);
  const outcomes = await Promise.all(devs.map(connectDev));
  const accepted = outcomes.filter((o): o is MqttClient => !(o instanceof Error));
  const refused = outcomes.filter((o): o is Error => o instanceof Error);
  for (const e of refused) assert.is((e as Error & { code?: number }).code, 3, `refused with ${e.message}, not server unavailable`);
  assert.ok(refused.length > 0, 'some connects were shed');
  assert.ok(accepted.length > 0, 'some connects were accepted');
  const shed = (await tb.api('GET', '/metrics')).body as string;
  assert.match(shed, /fleetbind_auth_failures_total\{kind="mqtt",reason="overloaded"\} [1-9]/);

  // The shed devices get in when they retry, a few at a time as a device's back-off spreads them.
  const retry = devs.filter((_, i) => outcomes[i] instanceof Error);
  for (let i = 0; i < retry.length; i += 4) {
    const again = await Promise.all(retry.slice(i, i + 4).map(connectDev));
    for (const c of again) assert.not.ok(c instanceof Error, `retry refused: ${String(c)}`);
    accepted.push(...(again as MqttClient[]));
  }
  storming = false;
  await canaryLoop;
  assert.ok(canaryJobs > 0, 'the canary ran jobs during the storm');
  await jobIn(tb, await submitOk(a, identify(canaryDev.id)), ['done'], tb.adminToken, 20_000);
  console.log(
    `\noverload: ${STORM} connects at once, ${STORM - retry.length} accepted, ${retry.length} shed with CONNACK 3 (all accepted on retry); canary ran ${canaryJobs} jobs meanwhile`,
  );
  await end(...accepted, a.client);
  await canary.close();
});

s.run();
