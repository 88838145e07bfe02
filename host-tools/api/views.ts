// What the broker's admin API answers, as the host tools read it. Host tools depend on protocol/
// and the HTTP contract only, never on broker internals, so these mirror the JSON.
import type { Status } from '../../protocol/messages';

export interface Label { code: string; sig?: string; url: string; device: string | null; fleet: string }

export interface DeviceView {
  id: string;
  mac: string;
  machineCode: string | null;
  model: string | null;
  fw: string | null;
  agent: string | null;
  boundAt: number | null;
  reservedByJob: string | null;
  lastSeen: number | null;
  presence: Status;
}

export interface AgentView { id: string; name: string; disabled: boolean; deviceLimit: number | null; createdAt: number; devices?: number }

export interface BindingView { device: string; machineCode: string | null; agent: string; boundAt: number; via: string | null; presence: Status }

export interface TransferResult { device: string; from: string | null; to: string | null; changed: boolean }

export interface AuditEntry { seq: number; at: number; actor: string; action: string; device: string | null; agent: string | null; detail: Record<string, unknown> }

export interface NewEnrollmentToken { id: string; token: string; uses: number; expiresAt: number }

export interface EnrollmentTokenView { id: string; usesTotal: number; usesLeft: number; expiresAt: number; createdAt: number; createdBy: string; revokedAt: number | null }
