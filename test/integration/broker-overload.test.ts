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
import { ManualClock } from '../helpers/manual-clock';
import { connect, end } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';
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

const backedUp = suite('overload shedding: a backed-up authentication');
const authenticating = async (tb: TestBroker): Promise<number> => (await tb.ctx.metrics.authenticating.get()).values[0]?.value ?? 0;
const clock = new ManualClock();
let slow: TestBroker;
backedUp.before(async () => {
  slow = await TestBroker.start({ clock, maxAuthWaitMs: 3_000 });
});
backedUp.after(async () => {
  await slow?.stop();
});

backedUp(
  'a storm the broker keeps up with is not shed; once the oldest CONNECT under way has waited too long, a new one is told CONNACK 3 at once',
  async () => {
    const devs: Dev[] = [];
    for (let i = 0; i < 4; i++) devs.push(await slow.provision());
    const connectTo = (d: Dev): Promise<MqttClient | Error> =>
      connect(slow.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret, connectTimeout: 30_000, reconnectPeriod: 0 }).catch((e: Error) => e);
    // Hold the registry's one connection: every authentication now waits for it.
    let release = (): void => undefined;
    const held = slow.ctx.db.transaction().execute(() => new Promise<void>((r) => (release = r)));
    const waiting = [connectTo(devs[0]!), connectTo(devs[1]!)];
    await waitUntil(async () => (await authenticating(slow)) === 2, 10_000, 'two CONNECTs under way');
    // Under the limit: a third joins the wait rather than being refused.
    clock.advance(2_000);
    waiting.push(connectTo(devs[2]!));
    await waitUntil(async () => (await authenticating(slow)) === 3, 10_000, 'three CONNECTs under way');
    // The oldest has now waited 3 s: the next is refused at once, while the registry is still held.
    clock.advance(1_000);
    const refused = await connectTo(devs[3]!);
    assert.ok(refused instanceof Error, 'refused');
    assert.is((refused as Error & { code?: number }).code, 3);
    release();
    await held;
    const accepted = await Promise.all(waiting);
    for (const c of accepted) assert.not.ok(c instanceof Error, `accepted after the wait: ${String(c)}`);
    // The backlog is gone, so the refused device gets in on retry.
    const again = await connectTo(devs[3]!);
    assert.not.ok(again instanceof Error, `retry: ${String(again)}`);
    await end(...(accepted as MqttClient[]), again as MqttClient);
  },
);

s.run();
backedUp.run();
