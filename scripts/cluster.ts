// npm run cluster -- [--nodes 2] [--mqtt-port 18831] [--http-port 18081]
//                    [--database-url postgres://postgres@127.0.0.1:5432/fleetbind_local]
//                    [--redis-url redis://127.0.0.1:6379] [--redis-prefix fleetbind-local:]
// Starts a local cluster for trying it out: N broker nodes on this machine sharing the local
// PostgreSQL (the database is created if missing) and Redis. Node i listens on the given ports
// + i. Logs go to data/cluster/node-<i>.log; Ctrl-C stops every node.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { pingRedis } from '../broker/cluster/redis';
import { defineCli, readCli } from '../host-tools/cli/args';

const root = join(import.meta.dirname, '..');

function fail(message: string): never {
  console.error(`cluster: ${message}`);
  process.exit(1);
}

const { values } = readCli(
  defineCli({
    command: 'npm run cluster --',
    usage: ['[--nodes 2] [--mqtt-port 18831] [--http-port 18081] [--database-url URL] [--redis-url URL] [--redis-prefix P]'],
    summary:
      'Starts a local cluster to try out: N broker nodes on this machine sharing PostgreSQL (the database is created if missing) and Redis. Node i listens on the given ports + i; logs go to data/cluster/node-<i>.log; Ctrl-C stops every node.',
    options: {
      nodes: { type: 'string', value: 'N', default: '2', help: 'how many broker nodes, 1 to 16' },
      'mqtt-port': { type: 'string', value: 'PORT', default: '18831', help: 'MQTT port of node 1; node i gets PORT + i - 1' },
      'http-port': { type: 'string', value: 'PORT', default: '18081', help: 'HTTP port of node 1; node i gets PORT + i - 1' },
      'database-url': {
        type: 'string',
        value: 'URL',
        env: 'FLEETBIND_DATABASE_URL',
        default: 'postgres://postgres@127.0.0.1:5432/fleetbind_local',
        help: 'the PostgreSQL database the nodes share',
      },
      'redis-url': { type: 'string', value: 'URL', env: 'FLEETBIND_REDIS_URL', default: 'redis://127.0.0.1:6379', help: 'the Redis the nodes share' },
      'redis-prefix': { type: 'string', value: 'PREFIX', default: 'fleetbind-local:', help: "namespace of the cluster's Redis keys" },
    },
  }),
);

const count = Number(values.nodes);
if (!Number.isInteger(count) || count < 1 || count > 16) fail(`--nodes must be a whole number from 1 to 16, got '${values.nodes}'`);
const mqttBase = Number(values['mqtt-port']);
const httpBase = Number(values['http-port']);
for (const [name, p] of [
  ['mqtt-port', mqttBase],
  ['http-port', httpBase],
] as const) {
  if (!Number.isInteger(p) || p < 1 || p + count > 65535) fail(`--${name} must be a port number, got '${values[name]}'`);
}
const databaseUrl = values['database-url'];
const redisUrl = values['redis-url'];

/** Creates the database unless it exists (the server-level connection goes to its postgres database). */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) fail(`the database name in --database-url must be a plain lower-case identifier, got '${name}'`);
  const server = new URL(url);
  server.pathname = '/postgres';
  const c = new pg.Client({ connectionString: server.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
  } catch (err) {
    fail(
      `PostgreSQL is not reachable at ${target.host} (${(err as Error).message}). Start it (pg_ctlcluster <version> main start) or install it (apt-get install postgresql).`,
    );
  }
  try {
    const exists = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      await c.query(`create database ${name}`);
      console.log(`created database ${name}`);
    }
  } finally {
    await c.end();
  }
}

async function checkRedis(url: string): Promise<void> {
  try {
    await pingRedis(url);
  } catch (err) {
    fail(`Redis is not reachable at ${url} (${(err as Error).message}). Start it (redis-server --daemonize yes) or install it (apt-get install redis-server).`);
  }
}

async function healthy(httpPort: number, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) fail(`a node exited with code ${child.exitCode} while starting; see ${log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) fail(`a node did not become healthy within 60 s; see ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

await ensureDatabase(databaseUrl);
await checkRedis(redisUrl);

const dir = join(root, 'data', 'cluster');
mkdirSync(dir, { recursive: true });
const children: ChildProcess[] = [];
let stopping = false;

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  if (alive.length === 0) process.exit(code);
  let left = alive.length;
  for (const c of alive) {
    c.once('exit', () => --left === 0 && process.exit(code));
    c.kill('SIGTERM');
  }
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

// One after the other: the first node creates the schema and, on a new database, the admin.
for (let i = 0; i < count; i++) {
  const log = join(dir, `node-${i + 1}.log`);
  const out = createWriteStream(log, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'broker/main.ts',
      '--data-dir',
      join(dir, `node-${i + 1}`),
      '--host',
      '127.0.0.1',
      '--mqtt-port',
      String(mqttBase + i),
      '--http-port',
      String(httpBase + i),
    ],
    {
      cwd: root,
      env: { ...process.env, FLEETBIND_DATABASE_URL: databaseUrl, FLEETBIND_REDIS_URL: redisUrl, FLEETBIND_REDIS_PREFIX: values['redis-prefix'] },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  child.stdout!.pipe(out);
  // The first-run admin banner comes on stderr; it belongs on this terminal, not in a log file.
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`cluster: node ${i + 1} exited (${signal ?? code}); see ${log}`);
    }
  });
  await healthy(httpBase + i, child, log);
}

console.log(
  `\nfleetbind cluster: ${count} node${count > 1 ? 's' : ''} on ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname} (PostgreSQL) and ${redisUrl} (Redis, prefix ${values['redis-prefix']})`,
);
for (let i = 0; i < count; i++) {
  console.log(
    `  node ${i + 1}: MQTT mqtt://127.0.0.1:${mqttBase + i}   HTTP + MQTT over WebSocket http://127.0.0.1:${httpBase + i} (ws://127.0.0.1:${httpBase + i}/mqtt)   log ${join('data', 'cluster', `node-${i + 1}.log`)}`,
  );
}
console.log(
  `Connect devices and agents to any node (in production: one address behind a TCP load balancer). Health: curl http://127.0.0.1:${httpBase}/healthz`,
);
console.log('Ctrl-C stops every node.');
