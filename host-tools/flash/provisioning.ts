// The broker's admin REST API as the flasher uses it: register a device by MAC (getting its id and
// a fresh secret, once), and delete it again when flashing fails so no half-provisioned entry stays.
// It runs in the browser too, with the signed-in admin's session token.
import { AdminApi, AdminApiError } from '../api/admin-api';
import { deviceIdFromMac } from '../../protocol/ids';
import { FlashError } from './errors';
import type { Provisioned, Registry } from './flash-device';

function flashErrorOf(e: unknown): unknown {
  if (!(e instanceof AdminApiError)) return e;
  if (e.failure === 'unreachable') return new FlashError('BROKER_UNREACHABLE', e.message);
  if (e.status === 409 && e.wire?.code === 'ALREADY_REGISTERED') {
    return new FlashError('ALREADY_REGISTERED', `${e.wire.message}; to give it a new secret, run again with --reprovision`);
  }
  return new FlashError('BROKER_REFUSED', e.message);
}

export class ProvisioningClient implements Registry {
  private readonly api: AdminApi;

  constructor(baseUrl: string, adminToken: string) {
    this.api = new AdminApi({ baseUrl, token: adminToken });
  }

  async register(mac: string, machineCode: string | undefined, reprovision: boolean): Promise<Provisioned> {
    const body: Record<string, unknown> = { mac };
    if (machineCode !== undefined) body.machineCode = machineCode;
    if (reprovision) body.reprovision = true;
    let r: Partial<Provisioned> | null;
    try {
      r = await this.api.request<Partial<Provisioned> | null>('POST', '/api/devices', `register MAC ${mac}`, body);
    } catch (e) {
      throw flashErrorOf(e);
    }
    if (typeof r?.id !== 'string' || typeof r.secret !== 'string' || r.secret === '') {
      throw new FlashError('BROKER_REFUSED', `the broker's reply to registering MAC ${mac} has no device id and secret`);
    }
    return { id: r.id, secret: r.secret, reprovisioned: r.reprovisioned === true };
  }

  async check(mac: string, reprovision: boolean): Promise<{ id: string; exists: boolean }> {
    const id = deviceIdFromMac(mac);
    try {
      await this.api.request('GET', `/api/devices/${encodeURIComponent(id)}`, `look up ${id}`);
    } catch (e) {
      if (e instanceof AdminApiError && e.status === 404) return { id, exists: false };
      throw flashErrorOf(e);
    }
    if (!reprovision)
      throw new FlashError('ALREADY_REGISTERED', `MAC ${mac} is already registered as ${id}; to give it a new secret, run again with --reprovision`);
    return { id, exists: true };
  }

  async remove(id: string, reason: string): Promise<void> {
    try {
      await this.api.request('DELETE', `/api/devices/${encodeURIComponent(id)}`, `delete device ${id}`, { reason });
    } catch (e) {
      if (e instanceof AdminApiError && e.status === 404) return;
      throw flashErrorOf(e);
    }
  }
}
