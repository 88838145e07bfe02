// The broker's admin REST API as the flasher uses it: register a device by MAC (getting its id and
// a fresh secret, once), and delete it again when flashing fails so no half-provisioned entry stays.
import type { WireError } from '../../protocol/errors';
import { FlashError } from './errors';

export interface Provisioned {
  id: string;
  secret: string;
  /** The MAC was registered before: this rotated its secret rather than creating the device. */
  reprovisioned: boolean;
}

const TIMEOUT_MS = 15_000;

export class ProvisioningClient {
  constructor(
    private readonly baseUrl: string,
    private readonly adminToken: string,
  ) {}

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new FlashError('BROKER_UNREACHABLE', `broker API at ${this.baseUrl} is unreachable (${why})`);
    }
    const text = await res.text();
    let json: unknown = null;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        throw new FlashError('BROKER_REFUSED', `broker API at ${this.baseUrl} answered ${method} ${path} with ${res.status} and a body that is not JSON`);
      }
    }
    return { status: res.status, json };
  }

  private refused(what: string, status: number, json: unknown): FlashError {
    const err = (json as { error?: WireError } | null)?.error;
    if (status === 401 || status === 403) {
      return new FlashError('BROKER_REFUSED', `the broker refused the admin token when asked to ${what} (${err?.code ?? status}: ${err?.message ?? 'no detail'})`);
    }
    return new FlashError('BROKER_REFUSED', `the broker refused to ${what}: ${err ? `${err.code}: ${err.message}` : `HTTP ${status}`}`);
  }

  async register(mac: string, machineCode: string | undefined, reprovision: boolean): Promise<Provisioned> {
    const body: Record<string, unknown> = { mac };
    if (machineCode !== undefined) body.machineCode = machineCode;
    if (reprovision) body.reprovision = true;
    const { status, json } = await this.request('POST', '/api/devices', body);
    const err = (json as { error?: WireError } | null)?.error;
    if (status === 409 && err?.code === 'ALREADY_REGISTERED') {
      throw new FlashError('ALREADY_REGISTERED', `${err.message}; to give it a new secret, run again with --reprovision`);
    }
    if (status !== 200 && status !== 201) throw this.refused(`register MAC ${mac}`, status, json);
    const r = json as Partial<Provisioned>;
    if (typeof r.id !== 'string' || typeof r.secret !== 'string' || r.secret === '') {
      throw new FlashError('BROKER_REFUSED', `the broker's reply to registering MAC ${mac} has no device id and secret`);
    }
    return { id: r.id, secret: r.secret, reprovisioned: r.reprovisioned === true };
  }

  async remove(id: string, reason: string): Promise<void> {
    const { status, json } = await this.request('DELETE', `/api/devices/${encodeURIComponent(id)}`, { reason });
    if (status !== 204 && status !== 200 && status !== 404) throw this.refused(`delete device ${id}`, status, json);
  }
}
