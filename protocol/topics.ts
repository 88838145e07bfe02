// The topic tree (docs/architecture.md, Topic tree). Builders take already-normalised ids; the parser accepts
// only canonical topics, so one device or agent can never be addressed by two spellings.
import { ID_PATTERN, MAC_PATTERN } from './ids';

export const PREFIX = 'fb/v1';

export const DEVICE_LEAVES = ['hello', 'status', 'config', 'cmd', 'ack', 'jobs', 'state', 'shadow'] as const;
export type DeviceLeaf = (typeof DEVICE_LEAVES)[number] | 'evt';
export const AGENT_LEAVES = ['req', 'res', 'bindings', 'alerts'] as const;
export type AgentLeaf = (typeof AGENT_LEAVES)[number];
export const ADMIN_LEAVES = ['req', 'res'] as const;
export type AdminLeaf = (typeof ADMIN_LEAVES)[number];

export type ParsedTopic =
  | { kind: 'device'; device: string; leaf: DeviceLeaf; stream?: string }
  | { kind: 'agent'; agent: string; leaf: AgentLeaf }
  | { kind: 'admin'; admin: string; leaf: AdminLeaf }
  | { kind: 'enroll'; mac: string; reply: boolean }
  | { kind: 'order'; order: string };

export const deviceTopic = (device: string, leaf: Exclude<DeviceLeaf, 'evt'>): string => `${PREFIX}/d/${device}/${leaf}`;
export const eventTopic = (device: string, stream: string): string => `${PREFIX}/d/${device}/evt/${stream}`;
export const agentTopic = (agent: string, leaf: AgentLeaf): string => `${PREFIX}/a/${agent}/${leaf}`;
export const adminTopic = (admin: string, leaf: AdminLeaf): string => `${PREFIX}/admin/${admin}/${leaf}`;
/** Transfer requests and their decisions, for admins only (outside every agent's and admin's own tree). */
export const adminTransferTopic = `${PREFIX}/admin/transfer-requests`;
/** Alerts raised, cleared and acknowledged on every machine, for admins only. */
export const adminAlertsTopic = `${PREFIX}/admin/alerts`;
/** One walk-up order's state, for the customer session that placed it (docs/architecture.md, "Walk-up orders"). */
export const orderTopic = (order: string): string => `${PREFIX}/o/${order}`;
export const enrollTopic = (mac: string): string => `${PREFIX}/enroll/${mac}`;
export const enrollReplyTopic = (mac: string): string => `${PREFIX}/enroll/${mac}/reply`;

const isId = (s: string | undefined): s is string => s !== undefined && ID_PATTERN.test(s) && !s.includes('..');
const isOneOf = <T extends string>(list: readonly T[], s: string | undefined): s is T => s !== undefined && (list as readonly string[]).includes(s);

/** Parses a concrete (wildcard-free) topic; null for anything outside the tree. */
export function parseTopic(topic: string): ParsedTopic | null {
  if (!topic.startsWith(PREFIX + '/')) return null;
  const s = topic.slice(PREFIX.length + 1).split('/');
  const [ns, id, leaf, extra] = s;
  switch (ns) {
    case 'd':
      if (!isId(id)) return null;
      if (s.length === 3 && isOneOf(DEVICE_LEAVES, leaf)) return { kind: 'device', device: id, leaf };
      if (s.length === 4 && leaf === 'evt' && isId(extra)) return { kind: 'device', device: id, leaf: 'evt', stream: extra };
      return null;
    case 'a':
      return s.length === 3 && isId(id) && isOneOf(AGENT_LEAVES, leaf) ? { kind: 'agent', agent: id, leaf } : null;
    case 'admin':
      return s.length === 3 && isId(id) && isOneOf(ADMIN_LEAVES, leaf) ? { kind: 'admin', admin: id, leaf } : null;
    case 'o':
      return s.length === 2 && isId(id) ? { kind: 'order', order: id } : null;
    case 'enroll':
      if (id === undefined || !MAC_PATTERN.test(id)) return null;
      if (s.length === 2) return { kind: 'enroll', mac: id, reply: false };
      if (s.length === 3 && leaf === 'reply') return { kind: 'enroll', mac: id, reply: true };
      return null;
    default:
      return null;
  }
}

export function topicOf(p: ParsedTopic): string {
  switch (p.kind) {
    case 'device':
      return p.leaf === 'evt' ? eventTopic(p.device, p.stream ?? '') : deviceTopic(p.device, p.leaf);
    case 'agent':
      return agentTopic(p.agent, p.leaf);
    case 'admin':
      return adminTopic(p.admin, p.leaf);
    case 'enroll':
      return p.reply ? enrollReplyTopic(p.mac) : enrollTopic(p.mac);
    case 'order':
      return orderTopic(p.order);
  }
}

/** Payload limits in bytes (docs/architecture.md, ACL rules). */
export const PAYLOAD_LIMIT_EVT = 16 * 1024;
export const PAYLOAD_LIMIT_DEFAULT = 4 * 1024;
