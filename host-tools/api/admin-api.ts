// The one client of the broker's admin REST API that the host tools share. Every failure becomes
// an AdminApiError whose message is one line: unreachable, token refused, or the broker's own
// {error:{code,message}} answer.
import type { WireError } from '../../protocol/errors';
import type { Connection } from './connection';
import { ToolError } from './errors';
import type {
  AgentListItem,
  AuditView,
  BindingView,
  JobListItem,
  DeviceWithPresence,
  EnrollmentTokenView,
  Label,
  LoginBlockView,
  MachineView,
  NewEnrollmentToken,
  ShadowView,
  TransferResult,
} from '../../protocol/rest';

const TIMEOUT_MS = 15_000;
const BACKUP_TIMEOUT_MS = 30 * 60_000;

export type AdminApiFailure = 'unreachable' | 'unauthorized' | 'refused' | 'bad-response';

export class AdminApiError extends ToolError {
  override name = 'AdminApiError';
  constructor(
    readonly failure: AdminApiFailure,
    message: string,
    readonly status: number | null = null,
    readonly wire: WireError | null = null,
  ) {
    super(message);
  }
}

export class AdminApi {
  constructor(private readonly conn: Connection) {}

  get baseUrl(): string {
    return this.conn.baseUrl;
  }

  /** Sends one request and answers its response when it is a success; `what` completes "the broker refused to …". */
  private async send(method: string, path: string, what: string, body: unknown, timeoutMs: number): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.conn.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.conn.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause?.code ?? cause?.message ?? (e as Error).message);
      throw new AdminApiError('unreachable', `broker API at ${this.conn.baseUrl} is unreachable (${why})`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let wire: WireError | null = null;
    try {
      wire = (JSON.parse(text) as { error?: WireError } | null)?.error ?? null;
    } catch {
      wire = null;
    }
    const detail = wire ? `${wire.code}: ${wire.message}` : `HTTP ${res.status}`;
    if (res.status === 401) throw new AdminApiError('unauthorized', `the broker refused the admin token (${detail})`, res.status, wire);
    if (res.status === 403)
      throw new AdminApiError(
        'unauthorized',
        `the token is not an admin's; log in as admin:<name> or use the operator's admin token (${detail})`,
        res.status,
        wire,
      );
    throw new AdminApiError('refused', `the broker refused to ${what}: ${detail}`, res.status, wire);
  }

  /** Sends one request; `what` completes "the broker refused to …" in error messages. */
  async request<T>(method: string, path: string, what: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, what, body, TIMEOUT_MS);
    const text = await res.text();
    if (text === '') return null as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AdminApiError(
        'bad-response',
        `${this.conn.baseUrl} answered ${method} ${path} with HTTP ${res.status} and a body that is not JSON; is --broker-api the fleetbind broker?`,
        res.status,
      );
    }
  }

  /** A consistent backup of the registry, streamed as the broker takes it (large fleets take minutes). */
  async backup(): Promise<{ body: ReadableStream<Uint8Array>; filename: string }> {
    const res = await this.send('GET', '/api/backup', 'take a backup', undefined, BACKUP_TIMEOUT_MS);
    const filename = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'fleetbind-backup';
    if (!res.body) throw new AdminApiError('bad-response', 'the broker answered the backup with an empty body', res.status);
    return { body: res.body, filename };
  }

  /** A machine's claim label, or its walk-up order label. */
  label(code: string, purpose: 'claim' | 'order' = 'claim'): Promise<Label> {
    return this.request(
      'GET',
      `/api/${purpose === 'order' ? 'order-labels' : 'labels'}/${encodeURIComponent(code)}`,
      `sign ${purpose === 'order' ? 'an order' : 'a'} label for ${code}`,
    );
  }

  labels(purpose: 'claim' | 'order' = 'claim'): Promise<Label[]> {
    return this.request('GET', purpose === 'order' ? '/api/order-labels' : '/api/labels', `list machine ${purpose === 'order' ? 'order ' : ''}labels`);
  }

  devices(agent?: string): Promise<DeviceWithPresence[]> {
    return this.request('GET', `/api/devices${agent === undefined ? '' : `?agent=${encodeURIComponent(agent)}`}`, 'list devices');
  }

  machines(): Promise<MachineView[]> {
    return this.request('GET', '/api/machines', 'list machines');
  }

  setSettings(device: string, settings: Record<string, string | number | boolean | null>): Promise<ShadowView> {
    return this.request('PATCH', `/api/devices/${encodeURIComponent(device)}/settings`, `change the settings of ${device}`, { settings });
  }

  agents(): Promise<AgentListItem[]> {
    return this.request('GET', '/api/agents', 'list agents');
  }

  createAgent(a: { id: string; name: string; password: string; deviceLimit?: number }): Promise<AgentListItem> {
    return this.request('POST', '/api/agents', `create agent ${a.id}`, a);
  }

  bindings(): Promise<BindingView[]> {
    return this.request('GET', '/api/bindings', 'list bindings');
  }

  transfer(device: string, agent: string, reason: string, force: boolean): Promise<TransferResult> {
    return this.request('POST', `/api/devices/${encodeURIComponent(device)}/transfer`, `transfer ${device} to ${agent}`, { agent, reason, force });
  }

  /** Newest first; with `after` (a cursor) only later entries, oldest first. */
  audit(q: { device?: string; agent?: string; action?: string; limit?: number; after?: number }): Promise<AuditView[]> {
    const params = new URLSearchParams();
    if (q.device !== undefined) params.set('device', q.device);
    if (q.agent !== undefined) params.set('agent', q.agent);
    if (q.action !== undefined) params.set('action', q.action);
    if (q.after !== undefined) params.set('after', String(q.after));
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    const query = params.size > 0 ? `?${params}` : '';
    return this.request('GET', `/api/audit${query}`, 'read the audit log');
  }

  jobs(q: { device?: string; agent?: string; limit?: number }): Promise<JobListItem[]> {
    const params = new URLSearchParams();
    if (q.device !== undefined) params.set('device', q.device);
    if (q.agent !== undefined) params.set('agent', q.agent);
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    const query = params.size > 0 ? `?${params}` : '';
    return this.request('GET', `/api/jobs${query}`, 'list jobs');
  }

  /** `allowMachineCodes`: devices enrolled with it may announce a machine code that no device has yet. */
  createEnrollmentToken(uses: number, expiresIn: string | number, allowMachineCodes = false): Promise<NewEnrollmentToken> {
    return this.request('POST', '/api/enrollment-tokens', 'create an enrollment token', { uses, expiresIn, allowMachineCodes });
  }

  enrollmentTokens(): Promise<EnrollmentTokenView[]> {
    return this.request('GET', '/api/enrollment-tokens', 'list enrollment tokens');
  }

  unlockAgent(id: string): Promise<{ id: string; cleared: number }> {
    return this.request('POST', `/api/agents/${encodeURIComponent(id)}/unlock`, `unlock agent ${id}`);
  }

  blocks(): Promise<LoginBlockView[]> {
    return this.request('GET', '/api/blocks', 'list login blocks');
  }

  clearBlocks(match: { subject?: string; address?: string }): Promise<{ cleared: number }> {
    return this.request('POST', '/api/blocks/clear', 'clear login blocks', match);
  }

  login(user: string, password: string): Promise<{ token: string; kind: string; username: string; expiresAt: number; idleTimeoutMs: number }> {
    return this.request('POST', '/api/login', `log in ${user}`, { id: user, password });
  }

  release(device: string, reason: string, force: boolean): Promise<TransferResult> {
    return this.request('POST', `/api/devices/${encodeURIComponent(device)}/release`, `release ${device}`, { reason, force });
  }

  kickDevice(device: string): Promise<{ id: string; closed: number }> {
    return this.request('POST', `/api/devices/${encodeURIComponent(device)}/kick`, `kick ${device}`);
  }

  async deleteDevice(device: string, reason: string): Promise<void> {
    await this.request('DELETE', `/api/devices/${encodeURIComponent(device)}`, `delete ${device}`, { reason });
  }

  updateAgent(id: string, patch: { disabled?: boolean; password?: string }): Promise<AgentListItem> {
    return this.request('PATCH', `/api/agents/${encodeURIComponent(id)}`, `change agent ${id}`, patch);
  }

  async revokeEnrollmentToken(id: string): Promise<void> {
    await this.request('DELETE', `/api/enrollment-tokens/${encodeURIComponent(id)}`, `revoke enrollment token ${id}`);
  }
}
