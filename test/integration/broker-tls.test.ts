// TLS: with a certificate and key the broker also serves MQTT over TLS, and HTTP becomes HTTPS
// (REST and MQTT over WSS on /mqtt). The certificate is self-signed, made here with openssl, and
// every client verifies the server against it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { agentTopic, deviceTopic, eventTopic } from '../../protocol/topics';
import { type ApiResult, TestBroker, httpsApi as httpsApiWith, randomMac, request } from '../helpers/broker';
import { connect, end, publish, subscribe, waitFor } from '../helpers/mqtt';
import { requireTool } from '../helpers/tools';

const tls = suite('TLS');
let dir = '';
let ca: Buffer;
let tb: TestBroker | null = null;
const clients: MqttClient[] = [];

/** REST over HTTPS, trusting only the test's own certificate. */
function httpsApi(method: string, path: string, body?: unknown, token?: string): Promise<ApiResult> {
  return httpsApiWith(tb!.broker.httpUrl, ca, method, path, body, token);
}

tls.after(async () => {
  await end(...clients.splice(0));
  await tb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

tls('MQTT over TLS, HTTPS and WSS with a self-signed certificate', async () => {
  requireTool('openssl', 'openssl');
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-tls-'));
  const key = join(dir, 'k');
  const cert = join(dir, 'c');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  ca = readFileSync(cert);
  tb = await TestBroker.start({ tlsCert: cert, tlsKey: key, mqttsPort: 0 });
  const { mqttsPort, httpUrl, wsUrl } = tb.broker;
  assert.ok(mqttsPort !== null && mqttsPort > 0, `mqttsPort ${mqttsPort}`);
  assert.ok(httpUrl.startsWith('https://'), httpUrl);
  assert.ok(wsUrl.startsWith('wss://') && wsUrl.endsWith('/mqtt'), wsUrl);
  const mqtts = `mqtts://127.0.0.1:${mqttsPort}`;

  const health = await httpsApi('GET', '/healthz');
  assert.equal([health.status, health.body.ok], [200, true]);

  // REST over HTTPS: an agent and a device, exactly as over HTTP.
  const agentPassword = 'tls-agent-password';
  assert.is((await httpsApi('POST', '/api/agents', { id: 'tls-agent', name: 'TLS', password: agentPassword }, tb.adminToken)).status, 201);
  const login = await httpsApi('POST', '/api/login', { id: 'tls-agent', password: agentPassword });
  assert.is(login.status, 200, JSON.stringify(login.body));
  const mac = randomMac();
  const provisioned = await httpsApi('POST', '/api/devices', { mac }, tb.adminToken);
  assert.is(provisioned.status, 201, JSON.stringify(provisioned.body));
  const deviceId: string = provisioned.body.id;

  // A client that does not trust the certificate is turned away by TLS itself.
  const untrusted = await connect(mqtts, { clientId: deviceId, username: deviceId, password: provisioned.body.secret }).then(
    (c) => (c.end(true), 'connected'),
    (err: Error) => err.message,
  );
  assert.match(untrusted, /self[- ]signed/i);

  // The device over MQTT/TLS.
  const device = await connect(mqtts, { clientId: deviceId, username: deviceId, password: provisioned.body.secret, ca });
  clients.push(device);
  await subscribe(device, deviceTopic(deviceId, 'config'));
  const config = waitFor(device, (t) => t === deviceTopic(deviceId, 'config'), 5000, 'config over TLS');
  await publish(device, deviceTopic(deviceId, 'hello'), { fw: '1.0.0', model: 'tls-board', mac, caps: [], boot: 1, uptime: 0 });
  assert.is(((await config).json as { agent: unknown }).agent, null);

  // The agent over WSS claims it and receives its events.
  const agent = await connect(wsUrl, { clientId: 'agent:tls-agent:1', username: 'agent:tls-agent', password: login.body.token, ca });
  clients.push(agent);
  await subscribe(agent, agentTopic('tls-agent', 'res'));
  const claimed = await request(agent, { kind: 'agent', id: 'tls-agent' }, { op: 'claim', target: deviceId });
  assert.ok(claimed.ok, JSON.stringify(claimed));
  assert.equal(await subscribe(agent, `fb/v1/d/${deviceId}/evt/+`), [0]);
  const evt = waitFor(agent, (t) => t === eventTopic(deviceId, 'reading'), 5000, 'the event over WSS');
  await publish(device, eventTopic(deviceId, 'reading'), { v: 42 });
  assert.equal((await evt).json, { v: 42 });
  assert.is((await httpsApi('GET', `/api/devices/${deviceId}`, undefined, login.body.token)).body.agent, 'tls-agent');

  // Plain MQTT over TCP keeps working next to TLS.
  const plain = await connect(tb.broker.mqttUrl, { clientId: 'agent:tls-agent:2', username: 'agent:tls-agent', password: login.body.token });
  clients.push(plain);
  assert.ok(plain.connected);
});

tls.run();
