// `npm run fleet` as a child process against a live broker: what it prints is what the registry
// holds, what it changes is changed (and audited), a printed password or token really works, and
// every failure is one line with a non-zero exit.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { TestBroker, randomMac, request } from '../helpers/broker';
import { connect, end, publish, subscribe, waitFor } from '../helpers/mqtt';
import { runNpmScript, type ScriptRun } from '../helpers/npm-script';
import { closedPort } from '../helpers/ports';

/** Enrolls a new device with the token, as the firmware does, and returns the broker's reply. */
async function enroll(broker: TestBroker, token: string): Promise<any> {
  const mac = randomMac();
  const client = await connect(broker.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: token });
  try {
    await subscribe(client, enrollReplyTopic(mac));
    const reply = waitFor<any>(client, (topic) => topic === enrollReplyTopic(mac), 5000, 'the enroll reply');
    await publish(client, enrollTopic(mac), { mac, model: 'test-board', fw: '1.0.0' });
    return (await reply).json;
  } finally {
    await end(client);
  }
}

const t = suite<{ broker: TestBroker }>('fleet CLI');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

function fleet(
  broker: TestBroker,
  args: string[],
  env: Record<string, string | undefined> = { FLEETBIND_ADMIN_TOKEN: broker.adminToken },
  opts: { viaNpm?: boolean } = {},
): Promise<ScriptRun> {
  return runNpmScript('fleet', [...args, '--broker-api', broker.broker.httpUrl], env, opts);
}

async function ok(broker: TestBroker, args: string[], opts: { viaNpm?: boolean } = {}): Promise<string> {
  const r = await fleet(broker, args, undefined, opts);
  assert.is(r.code, 0, `fleet ${args.join(' ')}: ${r.stderr}`);
  assert.is(r.stderr, '', 'a successful command prints nothing on stderr');
  return r.stdout;
}

const json = async <T = any>(broker: TestBroker, args: string[]): Promise<T> => JSON.parse(await ok(broker, [...args, '--json'])) as T;

/** The table's rows as arrays of cells, header first. */
const rows = (text: string): string[][] =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));

const oneLine = (r: ScriptRun): string => {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('fleet: '));
  assert.is(lines.length, 1, r.stderr);
  return lines[0]!;
};

t('agent add with a generated password prints it once, and it logs in; agents lists it', async ({ broker }) => {
  const out = await ok(broker, ['agent', 'add', '263', '--name', 'test vk'], { viaNpm: true });
  const password = /^password: (\S+)$/m.exec(out)?.[1];
  assert.ok(password, out);
  assert.match(out, /^created agent 263 \(test vk\)$/m);
  assert.is(out.split(password!).length - 1, 1, 'the password appears exactly once');
  const login = await broker.api('POST', '/api/login', { id: 263, password });
  assert.is(login.status, 200, JSON.stringify(login.body));

  const chosen = await json(broker, ['agent', 'add', 'Kiosk-2', '--name', 'kiosk two', '--password', 'long-enough-pw', '--device-limit', '3']);
  assert.equal({ id: chosen.id, name: chosen.name, deviceLimit: chosen.deviceLimit }, { id: 'kiosk-2', name: 'kiosk two', deviceLimit: 3 });
  assert.not.ok('password' in chosen, 'a password the admin chose is not echoed');
  assert.is((await broker.api('POST', '/api/login', { id: 'kiosk-2', password: 'long-enough-pw' })).status, 200);

  const table = rows(await ok(broker, ['agents']));
  assert.equal(table[0], ['AGENT', 'NAME', 'DEVICES', 'LIMIT', 'STATUS', 'CREATED']);
  assert.equal(table.find((r) => r[0] === '263')?.slice(0, 5), ['263', 'test vk', '0', 'default', 'active']);
  assert.equal(table.find((r) => r[0] === 'kiosk-2')?.slice(0, 5), ['kiosk-2', 'kiosk two', '0', '3', 'active']);
  const api = await broker.api('GET', '/api/agents');
  assert.equal((await json<any[]>(broker, ['agents'])).map((a) => a.id).sort(), api.body.map((a: any) => a.id).sort());

  const dup = await fleet(broker, ['agent', 'add', '263', '--name', 'again', '--password', 'long-enough-pw']);
  assert.is(dup.code, 1);
  assert.is(oneLine(dup), 'fleet: the broker refused to create agent 263: CONFLICT: agent 263 already exists');
});

t('blocks lists a locked-out agent; agent unlock clears it and the agent logs in again; blocks clear by address', async ({ broker }) => {
  await broker.createAgent('guessed', { password: 'right-password' });
  for (let i = 0; i < 5; i++) assert.is((await broker.api('POST', '/api/login', { id: 'guessed', password: `wrong-${i}` }, undefined)).status, 401);
  assert.is((await broker.api('POST', '/api/login', { id: 'guessed', password: 'right-password' }, undefined)).status, 429);
  const table = rows(await ok(broker, ['blocks']));
  assert.equal(table[0], ['SUBJECT', 'ADDRESS', 'FAILURES', 'BLOCKED FOR']);
  assert.ok(
    table.some((r) => r[0] === 'agent:guessed' && r[2] === '5'),
    JSON.stringify(table),
  );
  assert.match(await ok(broker, ['agent', 'unlock', 'guessed']), /^unlocked agent guessed \(\d+ blocks? cleared\)$/m);
  assert.is((await broker.api('POST', '/api/login', { id: 'guessed', password: 'right-password' }, undefined)).status, 200);
  assert.equal(await json(broker, ['blocks', 'clear', '--address', '192.0.2.99']), { cleared: 0 });
  const usage = await fleet(broker, ['blocks', 'clear']);
  assert.is(usage.code, 2);
  assert.match(oneLine(usage), /--subject, --address or both/);
});

t('devices and bindings show the registry; transfer moves a device, audited with its reason', async ({ broker }) => {
  const d1 = await broker.provision(undefined, 'CT0700101');
  const d2 = await broker.provision();
  const alice = await broker.agent('alice');
  const claim = await request(alice.client, { kind: 'agent', id: 'alice' }, { op: 'claim', target: 'CT0700101' });
  assert.ok(claim.ok, JSON.stringify(claim));
  await end(alice.client);
  await broker.createAgent('bob');

  const devices = rows(await ok(broker, ['devices']));
  assert.equal(devices[0], ['DEVICE', 'MACHINE', 'MODEL', 'FW', 'AGENT', 'PRESENCE', 'LAST SEEN']);
  assert.equal(devices.find((r) => r[0] === d1.id)?.slice(0, 5), [d1.id, 'CT0700101', 'test-board', '-', 'alice']);
  assert.equal(devices.find((r) => r[0] === d2.id)?.slice(0, 5), [d2.id, '-', 'test-board', '-', '-']);
  assert.equal(
    (await json<any[]>(broker, ['devices', '--agent', 'alice'])).map((d) => d.id),
    [d1.id],
  );

  const bindings = rows(await ok(broker, ['bindings']));
  assert.equal(bindings.length, 2, 'one bound device');
  assert.equal(bindings[1]!.slice(0, 3), [d1.id, 'CT0700101', 'alice']);

  const moved = await ok(broker, ['transfer', d1.id, 'bob', '--reason', 'alice moved to the night shift']);
  assert.is(moved.trim(), `transferred ${d1.id} from alice to bob`);
  assert.is((await broker.api('GET', `/api/devices/${d1.id}`)).body.agent, 'bob');
  assert.is((await ok(broker, ['transfer', d1.id, 'bob', '--reason', 'again'])).trim(), `${d1.id} is already bound to bob; nothing changed`);

  const audit = await json<any[]>(broker, ['audit', '--device', d1.id]);
  assert.ok(audit.length >= 3, JSON.stringify(audit));
  assert.ok(
    audit.every((e) => e.device === d1.id),
    'only entries about that device',
  );
  const transfer = audit.find((e) => e.action === 'transfer');
  assert.ok(transfer, JSON.stringify(audit));
  assert.is(transfer.agent, 'bob');
  assert.match(JSON.stringify(transfer.detail), 'alice moved to the night shift');
  const auditTable = rows(await ok(broker, ['audit', '--device', d1.id, '--limit', '2']));
  assert.equal(auditTable[0], ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'DEVICE', 'AGENT', 'DETAIL']);
  assert.is(auditTable.length, 3, 'header and --limit 2 entries');

  const unknown = await fleet(broker, ['transfer', 'esp32-000000000000', 'bob', '--reason', 'x']);
  assert.is(unknown.code, 1);
  assert.match(oneLine(unknown), /^fleet: the broker refused to transfer esp32-000000000000 to bob: NOT_FOUND: /);
});

t('enroll-token create prints a token that enrolls a device; list shows it; revoke stops it', async ({ broker }) => {
  const before = Date.now();
  const out = await ok(broker, ['enroll-token', 'create', '--uses', '50', '--expires', '7d']);
  const after = Date.now();
  const id = /^created enrollment token (\S+): 50 uses, expires /m.exec(out)?.[1];
  const token = /^token: (\S+)$/m.exec(out)?.[1];
  assert.ok(id && token, out);

  const enrolled = await enroll(broker, token!);
  assert.ok(enrolled.ok, JSON.stringify(enrolled));

  const listed = (await json<any[]>(broker, ['enroll-token', 'list'])).find((x) => x.id === id);
  assert.ok(listed);
  assert.equal({ usesTotal: listed.usesTotal, usesLeft: listed.usesLeft }, { usesTotal: 50, usesLeft: 49 });
  const week = 7 * 86_400_000;
  assert.ok(listed.expiresAt >= before + week && listed.expiresAt <= after + week, 'expires in 7 days');
  assert.not.ok(JSON.stringify(listed).includes(token!), 'the list never shows the token');
  const table = rows(await ok(broker, ['enroll-token', 'list']));
  assert.equal(table.find((r) => r[0] === id)?.[1], '49/50');
  assert.is(table.find((r) => r[0] === id)?.[4], 'active');
  assert.is(table.find((r) => r[0] === id)?.[5], 'no', 'machine codes are not allowed unless asked for');
  const coded = await ok(broker, ['enroll-token', 'create', '--uses', '1', '--expires', '1h', '--allow-machine-codes']);
  const codedId = /^created enrollment token (\S+): 1 uses, expires .*; its devices may announce machine codes$/m.exec(coded)?.[1];
  assert.ok(codedId, coded);
  assert.is(rows(await ok(broker, ['enroll-token', 'list'])).find((r) => r[0] === codedId)?.[5], 'yes');

  assert.is((await ok(broker, ['enroll-token', 'revoke', id!])).trim(), `revoked enrollment token ${id}`);
  assert.is(rows(await ok(broker, ['enroll-token', 'list'])).find((r) => r[0] === id)?.[4], 'revoked');
  const refused = await enroll(broker, token!);
  assert.is(refused.ok, false);
  assert.is(refused.error.code, 'TOKEN_EXPIRED');
  assert.match(refused.error.message, 'revoked');
});

t('a bad token, an unreachable broker and usage mistakes each fail in one line with a non-zero exit', async ({ broker }) => {
  const badToken = await fleet(broker, ['devices', '--admin-token', 'not-the-token']);
  assert.is(badToken.code, 1);
  assert.match(oneLine(badToken), /^fleet: the broker refused the admin token \(UNAUTHORIZED: /);

  const agent = await broker.createAgent('not-an-admin');
  const agentToken = await broker.login(agent.id, agent.password);
  const notAdmin = await fleet(broker, ['agents', '--admin-token', agentToken]);
  assert.is(notAdmin.code, 1);
  assert.match(oneLine(notAdmin), /^fleet: the token is not an admin's/);

  const port = await closedPort();
  const down = await runNpmScript('fleet', ['bindings', '--broker-api', `http://127.0.0.1:${port}`, '--admin-token', broker.adminToken]);
  assert.is(down.code, 1);
  assert.is(oneLine(down), `fleet: broker API at http://127.0.0.1:${port} is unreachable (ECONNREFUSED)`);

  const usage: Array<[string[], string]> = [
    [['frobnicate'], 'fleet: unknown command "frobnicate"'],
    [
      ['agent', 'remove', '263'],
      'fleet: unknown command "agent remove"; did you mean agent add or agent unlock or agent list or agent disable or agent passwd?',
    ],
    [['agent', 'add', '264'], 'fleet: "agent add" needs --name NAME (the name people see, such as "test vk")'],
    [['transfer', 'esp32-000000000000'], 'fleet: "transfer" takes <device> <agent>, got "esp32-000000000000"'],
    [['devices', '--reason', 'x'], 'fleet: --reason is not an option of "devices"'],
    [['enroll-token', 'create', '--uses', 'lots', '--expires', '7d'], 'fleet: --uses must be a whole number from 1 to 100000, got "lots"'],
  ];
  const runs = await Promise.all(usage.map(([args]) => fleet(broker, args)));
  usage.forEach(([args, line], i) => {
    assert.is(runs[i]!.code, 2, args.join(' '));
    assert.is(oneLine(runs[i]!), line);
  });
  const noToken = await fleet(broker, ['devices'], { FLEETBIND_ADMIN_TOKEN: undefined });
  assert.is(noToken.code, 2);
  assert.is(oneLine(noToken), 'fleet: no admin token: run npm run fleet -- login, pass --admin-token T or set $FLEETBIND_ADMIN_TOKEN');
  assert.equal((await broker.api('GET', '/api/agents/264')).status, 404, 'a refused command changes nothing');
});

t('device release, kick and rm take a machine code; agent disable and passwd change the agent (all audited)', async ({ broker }) => {
  const dev = await broker.provision(undefined, 'FLT0001');
  await broker.createAgent('fl-agent');
  assert.match(await ok(broker, ['transfer', 'flt0001', 'fl-agent', '--reason', 'by machine code']), /^transferred /);
  assert.is((await broker.api('GET', `/api/devices/${dev.id}`)).body.agent, 'fl-agent');
  assert.match(await ok(broker, ['device', 'release', 'FLT0001', '--reason', 'shift over']), new RegExp(`^released ${dev.id} from fl-agent`));
  assert.is((await broker.api('GET', `/api/devices/${dev.id}`)).body.agent, null);

  const { client } = await broker.device(dev);
  try {
    assert.match(await ok(broker, ['device', 'kick', 'FLT0001']), new RegExp(`^closed 1 connection of ${dev.id}`));
  } finally {
    await end(client);
  }
  assert.match(await ok(broker, ['device', 'rm', 'FLT0001', '--reason', 'scrapped']), new RegExp(`^deleted device ${dev.id} \\(FLT0001\\)`));
  assert.is((await broker.api('GET', `/api/devices/${dev.id}`)).status, 404);
  const gone = await fleet(broker, ['device', 'kick', 'FLT0001']);
  assert.is(gone.code, 1);
  assert.is(oneLine(gone), 'fleet: no device has the id or machine code "FLT0001"');

  const passwd = await ok(broker, ['agent', 'passwd', 'fl-agent']);
  const password = /^password: (\S+)$/m.exec(passwd)![1]!;
  const login = await broker.api('POST', '/api/login', { id: 'fl-agent', password }, undefined);
  assert.is(login.status, 200, JSON.stringify(login.body));
  assert.match(await ok(broker, ['agent', 'disable', 'fl-agent']), /^disabled agent fl-agent/);
  assert.is((await broker.api('GET', '/api/agents/fl-agent')).body.disabled, true);
  const listed = await json<Array<{ id: string }>>(broker, ['agent', 'list']);
  assert.ok(listed.some((a) => a.id === 'fl-agent'));
  const audit = await json<Array<{ action: string }>>(broker, ['audit', '--limit', '50']);
  const actions = audit.map((e) => e.action);
  for (const a of ['device.delete', 'agent.update'])
    assert.ok(
      actions.some((x) => x.startsWith(a.split('.')[0]!)),
      `${a} not audited: ${actions.join(', ')}`,
    );
});

t('login keeps an admin session in the config dir (mode 600) that later commands use without a token', async ({ broker }) => {
  const config = mkdtempSync(join(tmpdir(), 'fleetbind-config-'));
  try {
    const env = { FLEETBIND_ADMIN_TOKEN: undefined, XDG_CONFIG_HOME: config };
    const password = broker.broker.firstAdmin!.password;
    const bad = await fleet(broker, ['login', '--user', 'admin:admin', '--password', 'wrong-password'], env);
    assert.is(bad.code, 1);
    assert.match(oneLine(bad), /^fleet: .*UNAUTHORIZED/);
    const login = await fleet(broker, ['login', '--user', 'admin:admin', '--password', password], env);
    assert.is(login.code, 0, login.stderr);
    const file = join(config, 'fleetbind', 'session.json');
    assert.match(
      login.stdout,
      new RegExp(
        `^logged in to ${broker.broker.httpUrl.replace(/[.]/g, '\\.')} as admin:admin; the session is in ${file.replace(/[.]/g, '\\.')} \\(mode 600\\)`,
      ),
    );
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.not.ok(login.stdout.includes(JSON.parse(readFileSync(file, 'utf8')).token), 'the token was printed');
    const devices = await fleet(broker, ['devices', '--json'], env);
    assert.is(devices.code, 0, devices.stderr);
    assert.ok(Array.isArray(JSON.parse(devices.stdout)));
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
});

t('locations and leases: a location in detail with its pool devices, and the live lease of a pool job', async ({ broker }) => {
  assert.is((await broker.api('POST', '/api/locations', { id: 'bay-2', name: 'Bay two' })).status, 201);
  const dev = await broker.provision();
  const { client: device } = await broker.device(dev);
  assert.is((await broker.api('PATCH', `/api/devices/${dev.id}`, { location: 'bay-2', mode: 'pool' })).status, 200);
  const a = await broker.agent('bay-worker');
  assert.is((await broker.api('PATCH', `/api/agents/${a.id}`, { locations: ['bay-2'] })).status, 200);
  const r = await request(a.client, { kind: 'agent', id: a.id }, { op: 'submit', pool: 'bay-2', kind: 'identify', params: { seconds: 1 } });
  assert.ok(r.ok, JSON.stringify(r));
  try {
    const list = rows(await ok(broker, ['locations']));
    assert.equal(list[0]!.slice(0, 5), ['LOCATION', 'NAME', 'POOL DEVICES', 'FREE', 'WAITING']);
    assert.equal(list.find((x) => x[0] === 'bay-2')!.slice(0, 5), ['bay-2', 'Bay two', '1', '0', '0']);
    const detail = await ok(broker, ['locations', '--location', 'bay-2']);
    assert.match(detail, `${dev.id}`);
    assert.match(detail, /pool\s+bay-worker/);
    const leases = rows(await ok(broker, ['leases', '--location', 'bay-2']));
    assert.equal(leases[1]!.slice(0, 4), [dev.id, 'bay-worker', 'bay-2', r.result.job]);
    const asJson = await json(broker, ['leases']);
    assert.ok(asJson.some((l: any) => l.device === dev.id && l.agent === 'bay-worker'));
  } finally {
    await end(device, a.client);
  }
});

t.run();
