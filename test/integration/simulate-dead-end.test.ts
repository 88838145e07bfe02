// The simulator says when it cannot get anywhere and exits non-zero: pointed at an MQTT broker
// that is not fleetbind (a bare Aedes here, like Mosquitto on 1883), or at a fleetbind broker that
// refuses every device because the token is used up or expired; the summary carries the reason.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { TestBroker } from '../helpers/broker';
import { runNpmScript } from '../helpers/npm-script';
import { enrollmentToken, startFleet } from '../helpers/sim';

const t = suite('simulator dead ends');
let b: TestBroker;
t.before(async () => {
  b = await TestBroker.start();
});
t.after(async () => {
  await b.stop();
});

t('a plain MQTT broker: "no fleetbind broker answered at ..." and exit 1', async () => {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const r = await runNpmScript('simulate', ['--devices', '2', '--enroll-token', 'any-token-at-all', '--broker', url]);
    assert.is(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `^simulate: no fleetbind broker answered at ${url.replace(/\./g, '\\.')}: devices connected and asked to enroll, and no enrollment reply came within 15 s\\. .*--broker\\.\\n$`,
        'm',
      ),
    );
    assert.match(r.stdout, /simulated 2 devices for/);
  } finally {
    server.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
});

t('a used-up token ends the run with TOKEN_USED_UP in the summary and exit 1', async () => {
  const token = await enrollmentToken(b, 1);
  const first = startFleet(b.broker.mqttUrl, { devices: 1, enrollToken: token, machinesPrefix: 'USE-' });
  try {
    await first.waitFor((s) => s.registered === 1, 30_000, 'the one use taken');
  } finally {
    first.stop();
  }
  const r = await runNpmScript('simulate', ['--devices', '2', '--enroll-token', token, '--machines-prefix', 'LATE-', '--broker', b.broker.mqttUrl]);
  assert.is(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /\n {2}refused {8}2 devices: enrollment refused: TOKEN_USED_UP \(enrollment token has no uses left\)\n/);
  assert.match(r.stderr, /^simulate: the broker refused every device an identity: enrollment refused: TOKEN_USED_UP/m);
});

t('an expired token ends the run with TOKEN_EXPIRED in the summary and exit 1', async () => {
  const created = await b.api<{ token: string; expiresAt: number }>('POST', '/api/enrollment-tokens', { uses: 5, expiresIn: 1 });
  assert.is(created.status, 201);
  while (Date.now() <= created.body.expiresAt) await new Promise((r) => setTimeout(r, 100));
  const r = await runNpmScript('simulate', ['--devices', '1', '--enroll-token', created.body.token, '--machines-prefix', 'EXP-', '--broker', b.broker.mqttUrl]);
  assert.is(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /\n {2}refused {8}1 device: enrollment refused: TOKEN_EXPIRED \(enrollment token expired at /);
});

t.run();
