// Atomic Redis scripts, so every node reaches the same decision. Presence (docs/architecture.md, Presence): per
// device, `live:<dev>` maps each open connection number to its node, `st` holds the status JSON
// and `sc` "state:conn" for the comparisons. Numbers stay strings end to end: Lua would round a
// 16-digit connection number if it converted it. Dispatch leases: `leases` maps a device to the
// node that dispatches its jobs, `nodeleases:<node>` lists a node's devices.
import type { Redis } from 'ioredis';

const STATUS = `
local function status(state, conn, since, reason)
  local s = '{"state":"' .. state .. '","conn":' .. conn .. ',"since":' .. since
  if reason and reason ~= '' then s = s .. ',"reason":"' .. reason .. '"' end
  return s .. '}'
end
local function current(sc, dev)
  local cur = redis.call('HGET', sc, dev)
  if not cur then return nil, nil end
  return string.match(cur, '^(%a+):(%d+)$')
end
`;

const SCRIPTS = {
  /**
   * KEYS bucket; ARGV rate (per second), burst. A token bucket on Redis's clock, so every node
   * refills it alike; returns 0 when a token was taken, else the milliseconds until one is there.
   */
  fbTakeToken: {
    numberOfKeys: 1,
    lua: `local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 't', 'n')
local last = tonumber(b[1]) or now
local tokens = math.min(burst, (tonumber(b[2]) or burst) + (now - last) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 't', now, 'n', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait`,
  },
  /**
   * KEYS window; ARGV now, windowMs, subject, address (each '=' + value, or '' for none). One
   * failed login in a fixed window shared by every node (docs/architecture.md, Identities:
   * lockouts): a window that has run out starts again at 1. The key expires with its window.
   */
  fbLoginFail: {
    numberOfKeys: 1,
    lua: `local now = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 's'))
if not start or now - start >= windowMs then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'n', 1)
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'sub', string.sub(ARGV[3], 2)) end
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'adr', string.sub(ARGV[4], 2)) end
  start = now
else
  redis.call('HINCRBY', KEYS[1], 'n', 1)
end
redis.call('PEXPIRE', KEYS[1], math.max(1, start + windowMs - now))
return 1`,
  },
  /** KEYS conn; ARGV floor. Monotonic across a Redis that lost its data: never below wall time. */
  fbNextConn: {
    numberOfKeys: 1,
    lua: `local v = redis.call('INCR', KEYS[1])
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return v`,
  },
  /** KEYS live, nodeconns; ARGV conn, node, member. */
  fbOpened: {
    numberOfKeys: 2,
    lua: `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`,
  },
  /**
   * KEYS live, st, sc; ARGV dev, conn, since. Online unless the connection is gone or a newer one is
   * online; replacing an online connection is a takeover.
   */
  fbRegistered: {
    numberOfKeys: 3,
    lua: `${STATUS}
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return false end
local state, conn = current(KEYS[3], ARGV[1])
if state == 'online' and tonumber(conn) >= tonumber(ARGV[2]) then return false end
local s = status('online', ARGV[2], ARGV[3], state == 'online' and 'takeover' or nil)
redis.call('HSET', KEYS[2], ARGV[1], s)
redis.call('HSET', KEYS[3], ARGV[1], 'online:' .. ARGV[2])
return s`,
  },
  /**
   * KEYS live, nodeconns, st, sc; ARGV dev, conn, member, since, reason. Counts only when it was
   * the device's last open connection anywhere in the cluster.
   */
  fbClosed: {
    numberOfKeys: 4,
    lua: `${STATUS}
local removed = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[3])
if removed == 0 or redis.call('HLEN', KEYS[1]) > 0 then return false end
local state, conn = current(KEYS[4], ARGV[1])
if state ~= 'online' then return false end
local s = status('reconnecting', conn, ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[1], s)
redis.call('HSET', KEYS[4], ARGV[1], 'reconnecting:' .. conn)
return s`,
  },
  /** KEYS st, sc; ARGV dev, conn, since. The grace window ran out with no new connection. */
  fbExpire: {
    numberOfKeys: 2,
    lua: `${STATUS}
local state, conn = current(KEYS[2], ARGV[1])
if state ~= 'reconnecting' or conn ~= ARGV[2] then return false end
local reason = string.match(redis.call('HGET', KEYS[1], ARGV[1]) or '', '"reason":"([%a-]+)"') or 'socket'
local s = status('offline', conn, ARGV[3], reason)
redis.call('HSET', KEYS[1], ARGV[1], s)
redis.call('HSET', KEYS[2], ARGV[1], 'offline:' .. conn)
return s`,
  },
  /** KEYS st, sc; ARGV dev, json, state, conn. Only where the cluster knows nothing of the device. */
  fbInit: {
    numberOfKeys: 2,
    lua: `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. ':' .. ARGV[4])
return ARGV[2]`,
  },
  /** KEYS alive, reaping; ARGV reaper, ttl. Claims a node whose liveness key expired. */
  fbClaimReap: {
    numberOfKeys: 2,
    lua: `if redis.call('EXISTS', KEYS[1]) == 1 then return false end
return redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])`,
  },
  /** KEYS leases, nodeleases:<node>; ARGV dev, node. Returns the previous holder. */
  fbLeaseTake: {
    numberOfKeys: 2,
    lua: `local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return old`,
  },
  /** KEYS leases, nodeleases:<node>; ARGV dev, node. Drops the lease if that node still holds it. */
  fbLeaseDrop: {
    numberOfKeys: 2,
    lua: `redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`,
  },
  /**
   * KEYS filters:<node>, filterseq:<node>, filternodes; ARGV node, 'add'|'del', filter, channel.
   * One change to the topic filters a node's clients subscribe to (docs/architecture.md, Cluster
   * routing), numbered and announced to every node in the step that records it.
   */
  fbFilter: {
    numberOfKeys: 3,
    lua: `if ARGV[2] == 'add' then redis.call('HSET', KEYS[1], ARGV[3], 1) else redis.call('HDEL', KEYS[1], ARGV[3]) end
redis.call('SADD', KEYS[3], ARGV[1])
local s = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[4], cjson.encode({n = ARGV[1], s = s, op = ARGV[2], f = ARGV[3]}))
return s`,
  },
  /** KEYS as fbFilter; ARGV node, channel, filters...: replaces a node's whole set of filters. */
  fbFilterReset: {
    numberOfKeys: 3,
    lua: `redis.call('DEL', KEYS[1])
local fs = {}
for i = 3, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], 1)
  fs[#fs + 1] = ARGV[i]
end
redis.call('SADD', KEYS[3], ARGV[1])
local s = redis.call('INCR', KEYS[2])
local list = '[]'
if #fs > 0 then list = cjson.encode(fs) end
redis.call('PUBLISH', ARGV[2], '{"n":' .. cjson.encode(ARGV[1]) .. ',"s":' .. s .. ',"op":"reset","fs":' .. list .. '}')
return s`,
  },
  /** KEYS as fbFilter; ARGV node, channel: a dead node's filters are dropped everywhere. */
  fbFilterGone: {
    numberOfKeys: 3,
    lua: `redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({n = ARGV[1], op = 'gone'}))
return 1`,
  },
  /**
   * KEYS filternodes; ARGV the key prefix. Every node's filters as one consistent read:
   * node, seq, count, filters..., for each node in turn.
   */
  fbFilterSnapshot: {
    numberOfKeys: 1,
    lua: `local out = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fs = redis.call('HKEYS', ARGV[1] .. 'filters:' .. node)
  out[#out + 1] = node
  out[#out + 1] = redis.call('GET', ARGV[1] .. 'filterseq:' .. node) or '0'
  out[#out + 1] = tostring(#fs)
  for _, f in ipairs(fs) do out[#out + 1] = f end
end
return out`,
  },
} as const;

type Reply = Promise<string | null>;

export interface ScriptedRedis extends Redis {
  fbTakeToken(bucket: string, rate: string, burst: string): Promise<number>;
  fbNextConn(conn: string, floor: string): Promise<string | number>;
  fbLoginFail(window: string, now: string, windowMs: string, subject: string, address: string): Promise<number>;
  fbOpened(live: string, nodeconns: string, conn: string, node: string, member: string): Promise<number>;
  fbRegistered(live: string, st: string, sc: string, dev: string, conn: string, since: string): Reply;
  fbClosed(live: string, nodeconns: string, st: string, sc: string, dev: string, conn: string, member: string, since: string, reason: string): Reply;
  fbExpire(st: string, sc: string, dev: string, conn: string, since: string): Reply;
  fbInit(st: string, sc: string, dev: string, json: string, state: string, conn: string): Reply;
  fbClaimReap(alive: string, reaping: string, reaper: string, ttlMs: string): Reply;
  fbLeaseTake(leases: string, nodeleases: string, dev: string, node: string): Reply;
  fbLeaseDrop(leases: string, nodeleases: string, dev: string, node: string): Promise<number>;
  fbFilter(filters: string, seq: string, nodes: string, node: string, op: 'add' | 'del', filter: string, channel: string): Promise<number>;
  fbFilterReset(filters: string, seq: string, nodes: string, node: string, channel: string, ...list: string[]): Promise<number>;
  fbFilterGone(filters: string, seq: string, nodes: string, node: string, channel: string): Promise<number>;
  fbFilterSnapshot(nodes: string, prefix: string): Promise<string[]>;
}

export function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, s] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  return redis as ScriptedRedis;
}

export const keys = {
  conn: 'conn',
  st: 'st',
  sc: 'sc',
  nodes: 'nodes',
  live: (dev: string) => `live:${dev}`,
  nodeconns: (node: string) => `nodeconns:${node}`,
  alive: (node: string) => `alive:${node}`,
  reaping: (node: string) => `reaping:${node}`,
  member: (conn: number | string, dev: string) => `${conn} ${dev}`,
  leases: 'leases',
  requestBucket: (agent: string) => `reqbucket:${agent}`,
  /** A failed-login window; `key` is the throttle's own (rate-limit.ts). */
  loginWindow: (key: string) => `loginfail:${key}`,
  loginWindowPrefix: 'loginfail:',
  nodeleases: (node: string) => `nodeleases:${node}`,
  /** A node's topic filters, the number of its last change, and the nodes that have filters. */
  filters: (node: string) => `filters:${node}`,
  filterseq: (node: string) => `filterseq:${node}`,
  filternodes: 'filternodes',
};
