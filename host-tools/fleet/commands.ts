// The commands of `npm run fleet`: each names its positional arguments and options, calls the
// admin API, and gives its result both as JSON and as text for a person.
import { createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AdminApi } from '../api/admin-api';
import { ToolError, usageError } from '../api/errors';
import { saveSession } from '../api/session-file';
import { kindWords, statusWords } from '../../protocol/job-words';
import type { AuditView, DeviceWithPresence, EnrollmentTokenView, LeaseView, LocationDetail, LocationListItem } from '../../protocol/rest';
import type { Status } from '../../protocol/messages';
import { randomToken } from '../../broker/auth/secrets';
import { ROLLOUT_COMMANDS } from './rollouts';
import { bar, table, time } from './table';
import { SETTING_KEYS, type SettingValue, settingFromText } from '../../protocol/machine-state';

const INKS = ['c', 'm', 'y', 'k'] as const;

export interface Output {
  json: unknown;
  text: string;
}

export interface Invocation {
  args: string[];
  values: Record<string, string | boolean | undefined>;
}

export interface Command {
  name: string;
  args: string[];
  /** Option names (declared in OPTIONS) this command takes, with their usage text. */
  options: Record<string, string>;
  /** Runs without an admin token (logging in is how one gets it). */
  anonymous?: boolean;
  /** Options that must be given; the CLI checks them before run is called. */
  required?: string[];
  summary: string;
  run(api: AdminApi, inv: Invocation): Promise<Output>;
  /** With --follow: prints what is there, then each new entry as it comes, until the signal aborts. */
  follow?(api: AdminApi, inv: Invocation, print: (json: unknown, text: string) => void, signal: AbortSignal): Promise<void>;
}

/** Every option any command takes; commands.options says which belongs where, with its meaning there. */
export const OPTIONS = {
  user: { type: 'string', value: 'USER', help: 'who logs in: admin:NAME (login)' },
  agent: { type: 'string', value: 'ID', help: 'an agent id (devices, audit: only those of this agent)' },
  device: { type: 'string', value: 'ID', help: 'a device id or machine code (audit: only entries about it)' },
  name: { type: 'string', value: 'NAME', help: 'the name people see (agent add)' },
  password: { type: 'string', value: 'P', help: 'a login password (agent add)' },
  'device-limit': { type: 'string', value: 'N', help: 'how many devices an agent may hold (agent add)' },
  reason: { type: 'string', value: 'TEXT', help: 'why, kept in the audit log (transfer, rollout pause|resume|cancel)' },
  force: { type: 'boolean', help: 'even while a holding job reserves the device (transfer)' },
  limit: { type: 'string', value: 'N', help: 'at most N entries (audit)' },
  action: { type: 'string', value: 'A', help: 'one audit action, such as transfer or job.cancel (audit)' },
  follow: { type: 'boolean', help: 'keep printing new entries as they are written, until Ctrl-C (audit); redraw progress until done (rollouts)' },
  uses: { type: 'string', value: 'N', help: 'how many devices may enroll with the token (enroll-token create)' },
  expires: { type: 'string', value: 'D', help: 'how long the token is valid: 30m, 12h, 7d, 2w or seconds (enroll-token create)' },
  'allow-machine-codes': { type: 'boolean', help: 'devices enrolled with the token may announce a machine code no device has (enroll-token create)' },
  subject: { type: 'string', value: 'S', help: 'who is blocked: agent:ID, admin:NAME, device:ID, enroll:MAC (blocks clear)' },
  address: { type: 'string', value: 'IP', help: 'the source address that is blocked (blocks clear)' },
  location: { type: 'string', value: 'ID', help: 'a location id (locations, leases)' },
} as const;

const SHOWN_ONCE = 'shown once: it is stored only as a hash and cannot be shown again';

function positiveInt(v: string | boolean | undefined, flag: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim()) || n < 1 || n > max)
    throw usageError(`${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** The --device, --agent and --limit filter that the list commands (audit, jobs) share. */
function listFilter(values: Invocation['values']): { device?: string; agent?: string; limit?: number } {
  const limit = positiveInt(values.limit, '--limit', 1000);
  const q: { device?: string; agent?: string; limit?: number } = {};
  if (typeof values.device === 'string') q.device = values.device;
  if (typeof values.agent === 'string') q.agent = values.agent;
  if (limit !== undefined) q.limit = limit;
  return q;
}

/** A required string option; the CLI has checked it is there. */
const given = (v: string | boolean | undefined): string => String(v).trim();

const presence = (p: Status | undefined): string => (p === undefined ? '-' : p.reason && p.state !== 'online' ? `${p.state} (${p.reason})` : p.state);

function tokenState(t: EnrollmentTokenView, now: number): string {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt <= now) return 'expired';
  if (t.usesLeft <= 0) return 'used up';
  return 'active';
}

/** A device named by its id or its machine code, as printed on its label. */
async function lookupDevice(api: AdminApi, name: string): Promise<DeviceWithPresence | undefined> {
  const wanted = name.trim().toUpperCase();
  return (await api.devices()).find((x) => x.id === name.trim() || (x.machineCode !== null && x.machineCode.toUpperCase() === wanted));
}

async function findDevice(api: AdminApi, name: string): Promise<DeviceWithPresence> {
  const d = await lookupDevice(api, name);
  if (!d) throw new ToolError(`no device has the id or machine code ${JSON.stringify(name)}`);
  return d;
}

const none = (what: string, text: string, json: unknown[]): Output => ({ json, text: json.length === 0 ? `no ${what}` : text });

/** How often `audit --follow` asks for new rows, and how many it shows first. */
const FOLLOW_POLL_MS = Number(process.env.FLEETBIND_FOLLOW_POLL_MS ?? 1000);
const FOLLOW_BACKLOG = 20;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function auditQuery(values: Invocation['values']): { device?: string; agent?: string; action?: string; limit?: number } {
  const q: { device?: string; agent?: string; action?: string; limit?: number } = listFilter(values);
  if (typeof values.action === 'string') q.action = values.action;
  return q;
}

const auditDetail = (e: AuditView): string => (Object.keys(e.detail).length === 0 ? '' : JSON.stringify(e.detail));
const auditRow = (e: AuditView) => [e.seq, time(e.at), e.actor, e.action, e.device, e.agent, auditDetail(e)];
const auditLine = (e: AuditView): string =>
  [e.seq, time(e.at), e.actor, e.action, e.device ? `device=${e.device}` : '', e.agent ? `agent=${e.agent}` : '', auditDetail(e)]
    .filter((v) => v !== '')
    .join('  ');

const deviceRows = (ds: DeviceWithPresence[]) => ds.map((d) => [d.id, d.machineCode, d.model, d.fw, d.agent, presence(d.presence), time(d.lastSeen)]);

export const COMMANDS: Command[] = [
  {
    name: 'backup',
    args: ['file'],
    options: {},
    summary: 'save a consistent backup of the registry, taken while the broker runs (restore: npm start -- --restore FILE)',
    async run(api, { args }) {
      const file = args[0]!;
      if (existsSync(file)) throw usageError(`${file} exists; a backup never overwrites a file`);
      const started = Date.now();
      const { body } = await api.backup();
      // Written aside and renamed at the end: a download cut short never looks like a backup.
      const partial = `${file}.partial`;
      try {
        // Mode 600: it holds credential hashes and the device secret key.
        await pipeline(
          Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>),
          createWriteStream(partial, { mode: 0o600, flags: 'wx' }),
        );
      } catch (err) {
        rmSync(partial, { force: true });
        throw new ToolError(`the backup did not arrive whole (${(err as Error).message}); ${file} was not written`);
      }
      renameSync(partial, file);
      const bytes = statSync(file).size;
      const ms = Date.now() - started;
      return {
        json: { file, bytes, ms },
        text: `backup saved to ${file} (${bytes} bytes in ${ms} ms); restore it with npm start -- --restore ${file} --data-dir <empty dir>`,
      };
    },
  },
  {
    name: 'login',
    args: [],
    options: {
      user: "--user USER     admin:NAME, such as admin:admin (its first password is in the data dir's initial-admin.txt)",
      password: '--password P   the password (default $FLEETBIND_PASSWORD)',
    },
    required: ['user'],
    anonymous: true,
    summary: 'log in as an admin and keep the session for the next commands (in the config dir, mode 600)',
    async run(api, { values }) {
      const password = (values.password as string | undefined) ?? process.env.FLEETBIND_PASSWORD;
      if (!password) throw usageError('login needs --password P or $FLEETBIND_PASSWORD');
      const s = await api.login(given(values.user), password);
      if (s.kind !== 'admin') throw new ToolError(`${s.username} is an agent; npm run fleet needs an admin login (admin:NAME)`);
      const file = saveSession({ brokerApi: api.baseUrl, token: s.token, username: s.username, expiresAt: s.expiresAt }, process.env);
      return {
        json: { username: s.username, expiresAt: s.expiresAt, file },
        text: `logged in to ${api.baseUrl} as ${s.username}; the session is in ${file} (mode 600) until ${time(s.expiresAt)} or ${Math.round(s.idleTimeoutMs / 3600_000)} h unused`,
      };
    },
  },
  {
    name: 'devices',
    args: [],
    options: { agent: '--agent ID   only the devices bound to this agent' },
    summary: 'list devices with their machine code, binding and presence',
    async run(api, { values }) {
      const ds = await api.devices(values.agent as string | undefined);
      return none('devices', table(['DEVICE', 'MACHINE', 'MODEL', 'FW', 'AGENT', 'PRESENCE', 'LAST SEEN'], deviceRows(ds)), ds);
    },
  },
  {
    name: 'machines',
    args: [],
    options: {},
    summary: 'list machines: status, current job, queue, ink bars (C M Y K) and open alerts',
    async run(api) {
      const ms = await api.machines();
      const rows = ms.map((m) => [
        m.code ?? m.device,
        m.machineStatus,
        m.agent ?? null,
        m.currentJob,
        m.queueLength,
        ...INKS.map((c) => bar(m.consumables[`ink.${c}`]?.level)),
        m.consumables.paper === undefined ? null : `${Math.round(m.consumables.paper.level)}%`,
        m.openAlerts,
      ]);
      return none('machines', table(['MACHINE', 'STATUS', 'AGENT', 'JOB', 'QUEUE', 'CYAN', 'MAGENTA', 'YELLOW', 'BLACK', 'PAPER', 'ALERTS'], rows), ms);
    },
  },
  {
    name: 'settings',
    args: ['device', 'key=value'],
    options: {},
    summary: `change a desired setting of a device (${SETTING_KEYS.join(', ')}; key= removes it); the device is sent the change`,
    async run(api, { args }) {
      const [device, pair] = args as [string, string];
      const eq = pair.indexOf('=');
      if (eq < 1) throw usageError(`the setting must be key=value, got ${JSON.stringify(pair)}`);
      const key = pair.slice(0, eq);
      const text = pair.slice(eq + 1);
      let value: SettingValue | null;
      try {
        value = text === '' ? null : settingFromText(key, text);
      } catch (e) {
        throw usageError((e as Error).message);
      }
      const s = await api.setSettings(device, { [key]: value });
      const pending = Object.entries(s.delta).map(([k, v]) => `${k}=${String(v)}`);
      return {
        json: s,
        text: `${device}: desired settings version ${s.desiredVersion}; ${pending.length === 0 ? 'the device already runs with them' : `waiting for the device to apply ${pending.join(', ')}`}`,
      };
    },
  },
  {
    name: 'locations',
    args: [],
    options: { location: '--location ID   one location in detail: its devices with mode, lease and presence, and its pool queue' },
    summary: 'list locations with their pools (devices, free, waiting), or one in detail',
    async run(api, { values }) {
      if (values.location !== undefined) {
        const l = await api.request<LocationDetail>('GET', `/api/locations/${encodeURIComponent(String(values.location).trim())}`, 'show the location');
        const devices = table(
          ['DEVICE', 'MACHINE', 'MODE', 'LEASED TO', 'JOB', 'SINCE', 'PRESENCE'],
          l.devices.map((d) => [
            d.id,
            d.machineCode ?? '-',
            d.mode,
            d.lease?.agent ?? (d.mode === 'owned' ? (d.agent ?? '-') : '-'),
            d.lease?.job ?? '-',
            time(d.lease?.since),
            presence(d.presence),
          ]),
        );
        const queue =
          l.queue.length === 0
            ? 'pool queue: empty'
            : `pool queue:\n${table(
                ['#', 'JOB', 'AGENT', 'KIND', 'ETA', 'QUEUED'],
                l.queue.map((x) => [x.position, x.job, x.agent ?? '-', x.kind, `${Math.round(x.eta / 1000)} s`, time(x.queuedAt)]),
              )}`;
        return { json: l, text: `${l.id} (${l.name}); agents: ${(l.members ?? []).join(', ') || 'none'}\n${devices}\n${queue}` };
      }
      const ls = await api.request<LocationListItem[]>('GET', '/api/locations', 'list locations');
      return none(
        'locations',
        table(
          ['LOCATION', 'NAME', 'POOL DEVICES', 'FREE', 'WAITING', 'CREATED'],
          ls.map((l) => [l.id, l.name, l.devices, l.free, l.waiting, time(l.createdAt)]),
        ),
        ls,
      );
    },
  },
  {
    name: 'leases',
    args: [],
    options: { location: '--location ID   only the leases of this location' },
    summary: 'list live pool leases: which agent each pool device serves, for which job, since when',
    async run(api, { values }) {
      const q = values.location === undefined ? '' : `?location=${encodeURIComponent(String(values.location).trim())}`;
      const ls = await api.request<LeaseView[]>('GET', `/api/leases${q}`, 'list leases');
      return none(
        'live leases',
        table(
          ['DEVICE', 'AGENT', 'LOCATION', 'JOB', 'SINCE'],
          ls.map((l) => [l.device, l.agent, l.location, l.job, time(l.startedAt)]),
        ),
        ls,
      );
    },
  },
  {
    name: 'agents',
    args: [],
    options: {},
    summary: 'list agents with how many devices each holds',
    async run(api) {
      const as = await api.agents();
      const rows = as.map((a) => [a.id, a.name, a.devices ?? 0, a.deviceLimit ?? 'default', a.disabled ? 'disabled' : 'active', time(a.createdAt)]);
      return none('agents', table(['AGENT', 'NAME', 'DEVICES', 'LIMIT', 'STATUS', 'CREATED'], rows), as);
    },
  },
  {
    name: 'agent add',
    args: ['id'],
    options: {
      name: '--name NAME          the name people see, such as "test vk"',
      password: '--password P         the login password (default: a generated one, printed once)',
      'device-limit': "--device-limit N     how many devices the agent may hold (default: the broker's)",
    },
    required: ['name'],
    summary: 'create an agent login',
    async run(api, { args, values }) {
      const name = given(values.name);
      const chosen = values.password as string | undefined;
      const password = chosen ?? randomToken(15);
      const deviceLimit = positiveInt(values['device-limit'], '--device-limit', 10_000);
      const agent = await api.createAgent({ id: args[0]!, name, password, ...(deviceLimit === undefined ? {} : { deviceLimit }) });
      const lines = [`created agent ${agent.id} (${agent.name})`];
      if (chosen === undefined) lines.push(`password: ${password}`, `(${SHOWN_ONCE}; give it to the agent now)`);
      return { json: chosen === undefined ? { ...agent, password } : agent, text: lines.join('\n') };
    },
  },
  {
    name: 'agent unlock',
    args: ['id'],
    options: {},
    summary: "clear the agent's failed-login blocks, from every address (audited)",
    async run(api, { args }) {
      const r = await api.unlockAgent(args[0]!);
      return { json: r, text: `unlocked agent ${r.id} (${r.cleared} block${r.cleared === 1 ? '' : 's'} cleared)` };
    },
  },
  {
    name: 'agent list',
    args: [],
    options: {},
    summary: 'the same as agents',
    run: (api, inv) => COMMANDS.find((c) => c.name === 'agents')!.run(api, inv),
  },
  {
    name: 'agent disable',
    args: ['id'],
    options: {},
    summary: 'disable an agent: its sessions and connections end at once (audited)',
    async run(api, { args }) {
      const a = await api.updateAgent(args[0]!, { disabled: true });
      return { json: a, text: `disabled agent ${a.id}; its sessions and connections were ended` };
    },
  },
  {
    name: 'agent passwd',
    args: ['id'],
    options: { password: '--password P   the new password (default: a generated one, printed once)' },
    summary: "set an agent's password; its sessions end (audited)",
    async run(api, { args, values }) {
      const chosen = values.password as string | undefined;
      const password = chosen ?? randomToken(15);
      const a = await api.updateAgent(args[0]!, { password });
      const lines = [`changed the password of agent ${a.id}; its sessions were ended`];
      if (chosen === undefined) lines.push(`password: ${password}`, `(${SHOWN_ONCE}; give it to the agent now)`);
      return { json: chosen === undefined ? { ...a, password } : a, text: lines.join('\n') };
    },
  },
  {
    name: 'device rm',
    args: ['device'],
    options: { reason: '--reason TEXT   why, kept in the audit log' },
    summary: 'delete a device (by id or machine code): its binding ends and it is disconnected (audited)',
    async run(api, { args, values }) {
      const d = await findDevice(api, args[0]!);
      await api.deleteDevice(d.id, (values.reason as string | undefined) ?? 'deleted with npm run fleet');
      return { json: { id: d.id, deleted: true }, text: `deleted device ${d.id}${d.machineCode ? ` (${d.machineCode})` : ''}` };
    },
  },
  {
    name: 'device kick',
    args: ['device'],
    options: {},
    summary: "close a device's connections (by id or machine code); it reconnects by itself",
    async run(api, { args }) {
      const d = await findDevice(api, args[0]!);
      const r = await api.kickDevice(d.id);
      return { json: r, text: `closed ${r.closed} connection${r.closed === 1 ? '' : 's'} of ${r.id}` };
    },
  },
  {
    name: 'device release',
    args: ['device'],
    options: {
      reason: '--reason TEXT   why, kept in the audit log',
      force: '--force         even while a holding job reserves the device',
    },
    required: ['reason'],
    summary: 'unbind a device (by id or machine code) from its agent (audited)',
    async run(api, { args, values }) {
      const d = await findDevice(api, args[0]!);
      const r = await api.release(d.id, given(values.reason), values.force === true);
      return { json: r, text: r.changed ? `released ${r.device} from ${r.from ?? 'nobody'}` : `${r.device} was not bound; nothing changed` };
    },
  },
  {
    name: 'blocks',
    args: [],
    options: {},
    summary: 'list failed-login blocks: who, from where, how many failures, how long still',
    async run(api) {
      const bs = await api.blocks();
      const rows = bs.map((b) => [b.subject ?? '(any)', b.address ?? '(any)', b.failures, `${Math.ceil(b.retryAfterMs / 1000)} s`]);
      return none('blocks', table(['SUBJECT', 'ADDRESS', 'FAILURES', 'BLOCKED FOR'], rows), bs);
    },
  },
  {
    name: 'blocks clear',
    args: [],
    options: {
      subject: '--subject S    agent:ID, admin:NAME, device:ID or enroll:MAC',
      address: '--address IP   a source address',
    },
    summary: 'clear failed-login blocks of a subject, an address, or both (audited)',
    async run(api, { values }) {
      const subject = values.subject as string | undefined;
      const address = values.address as string | undefined;
      if (subject === undefined && address === undefined) throw usageError('blocks clear needs --subject, --address or both');
      const r = await api.clearBlocks({ ...(subject === undefined ? {} : { subject }), ...(address === undefined ? {} : { address }) });
      return { json: r, text: `cleared ${r.cleared} block${r.cleared === 1 ? '' : 's'}` };
    },
  },
  {
    name: 'bindings',
    args: [],
    options: {},
    summary: 'list which agent holds which device, since when',
    async run(api) {
      const bs = await api.bindings();
      const rows = bs.map((b) => [b.device, b.machineCode, b.agent, time(b.boundAt), b.via, presence(b.presence)]);
      return none('bindings', table(['DEVICE', 'MACHINE', 'AGENT', 'SINCE', 'VIA', 'PRESENCE'], rows), bs);
    },
  },
  {
    name: 'transfer',
    args: ['device', 'agent'],
    options: {
      reason: '--reason TEXT   why, kept in the audit log',
      force: '--force         even while a holding job reserves the device',
    },
    required: ['reason'],
    summary: 'bind a device to another agent (audited)',
    async run(api, { args, values }) {
      // An unknown name goes to the broker as given, which says why it refuses it.
      const r = await api.transfer((await lookupDevice(api, args[0]!))?.id ?? args[0]!, args[1]!, given(values.reason), values.force === true);
      const text = r.changed ? `transferred ${r.device} from ${r.from ?? 'nobody'} to ${r.to}` : `${r.device} is already bound to ${r.to}; nothing changed`;
      return { json: r, text };
    },
  },
  {
    name: 'audit',
    args: [],
    options: {
      device: '--device ID   only entries about this device',
      agent: '--agent ID    only entries about this agent',
      action: '--action A    only this action, such as transfer, device.deleted or job.cancel',
      limit: '--limit N     at most N entries, newest first (default 200, at most 1000; with --follow the last 20 first)',
      follow: '--follow      then print each new entry as it is written (one line each; --json: one object a line) until Ctrl-C',
    },
    summary: 'show the audit log, newest first, or follow it live',
    async run(api, { values }) {
      const es = await api.audit(auditQuery(values));
      const rows = es.map(auditRow);
      return none('audit entries', table(['SEQ', 'TIME', 'ACTOR', 'ACTION', 'DEVICE', 'AGENT', 'DETAIL'], rows), es);
    },
    async follow(api, { values }, print, signal) {
      const q = auditQuery(values);
      // The latest few oldest first, then a cursor: each poll asks only for rows after the last seen.
      const recent = (await api.audit({ ...q, limit: q.limit ?? FOLLOW_BACKLOG })).reverse();
      for (const e of recent) print(e, auditLine(e));
      let cursor = recent.at(-1)?.seq ?? (await api.audit({ limit: 1 }))[0]?.seq ?? 0;
      while (!signal.aborted) {
        await abortableSleep(FOLLOW_POLL_MS, signal);
        if (signal.aborted) break;
        for (;;) {
          const next = await api.audit({ ...q, limit: 1000, after: cursor });
          for (const e of next) print(e, auditLine(e));
          if (next.length > 0) cursor = next.at(-1)!.seq;
          if (next.length < 1000 || signal.aborted) break;
        }
      }
    },
  },
  {
    name: 'jobs',
    args: [],
    options: {
      device: '--device ID   only the jobs of this device',
      agent: '--agent ID    only the jobs of this agent',
      limit: '--limit N     at most N jobs, newest first (default 50, at most 1000)',
    },
    summary: 'list jobs with what each is and its status in words',
    async run(api, { values }) {
      const js = await api.jobs(listFilter(values));
      const rows = js.map((j) => [j.job, j.device, j.agent, kindWords(j.kind), statusWords(j), time(j.times.queued ?? null)]);
      return none('jobs', table(['JOB', 'DEVICE', 'AGENT', 'WHAT', 'STATUS', 'QUEUED'], rows), js);
    },
  },
  {
    name: 'enroll-token create',
    args: [],
    options: {
      uses: '--uses N      how many devices may enroll with it',
      expires: '--expires D   how long it is valid: 30m, 12h, 7d, 2w or seconds',
      'allow-machine-codes': '--allow-machine-codes   devices enrolled with it may announce a machine code that no device has yet',
    },
    required: ['uses', 'expires'],
    summary: 'create an enrollment token for self-registering devices',
    async run(api, { values }) {
      const uses = positiveInt(values.uses, '--uses', 100_000)!;
      const expires = given(values.expires);
      const t = await api.createEnrollmentToken(uses, /^\d+$/.test(expires) ? Number(expires) : expires, values['allow-machine-codes'] === true);
      const codes = t.allowMachineCodes ? '; its devices may announce machine codes' : '';
      const text = [
        `created enrollment token ${t.id}: ${t.uses} uses, expires ${time(t.expiresAt)}${codes}`,
        `token: ${t.token}`,
        `(${SHOWN_ONCE}; pass it to npm run flash -- --enroll-token)`,
      ].join('\n');
      return { json: t, text };
    },
  },
  {
    name: 'enroll-token list',
    args: [],
    options: {},
    summary: 'list enrollment tokens (never the tokens themselves)',
    async run(api) {
      const ts = await api.enrollmentTokens();
      const now = Date.now();
      const rows = ts.map((t) => [
        t.id,
        `${t.usesLeft}/${t.usesTotal}`,
        time(t.expiresAt),
        t.createdBy,
        tokenState(t, now),
        t.allowMachineCodes ? 'yes' : 'no',
      ]);
      return none('enrollment tokens', table(['ID', 'USES LEFT', 'EXPIRES', 'CREATED BY', 'STATE', 'MACHINE CODES'], rows), ts);
    },
  },
  {
    name: 'enroll-token revoke',
    args: ['id'],
    options: {},
    summary: 'revoke an enrollment token at once',
    async run(api, { args }) {
      await api.revokeEnrollmentToken(args[0]!);
      return { json: { id: args[0], revoked: true }, text: `revoked enrollment token ${args[0]}` };
    },
  },
  ...ROLLOUT_COMMANDS,
];
