// Turns a verified identity-provider token into an agent of this fleet: the agent must exist (or
// is created on first use with --jwt-auto-provision) and be enabled. Refusals are logged without
// the token and counted by reason; a live MQTT connection is closed when its token expires.
import type { Client } from 'aedes';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { Context } from '../context';
import { markCloseReason } from '../close-reason';
import { createAgent, getAgent } from '../store/accounts';
import { type JwtVerifier, TokenRefused } from './jwt';

/** What this module reads of the node's context. */
export type JwtAgentContext = Pick<Context, 'db' | 'log' | 'metrics' | 'now'>;

/** Stored as the password hash of an agent created from a token: no password verifies against it. */
export const NO_PASSWORD = '!identity-provider';

export interface TokenAgent {
  agent: string;
  expiresAt: number;
}

async function provision(ctx: JwtAgentContext, agent: string, name: string | null): Promise<void> {
  try {
    await createAgent(ctx.db, { id: agent, name: name ?? agent, passwordHash: NO_PASSWORD, deviceLimit: null }, 'identity-provider', ctx.now());
    ctx.log.info({ agent }, 'agent created on first use of an identity-provider token');
  } catch (err) {
    // Two first uses at once: the other one created it.
    if (!(err instanceof ProtocolError && err.code === ErrorCode.CONFLICT)) throw err;
  }
}

/** Verifies the token and resolves its agent, or throws TokenRefused. */
export async function agentFromToken(ctx: JwtAgentContext, jwt: JwtVerifier, token: string): Promise<TokenAgent> {
  const t = await jwt.verify(token);
  let row = await getAgent(ctx.db, t.agent);
  if (!row && jwt.autoProvision) {
    await provision(ctx, t.agent, t.name);
    row = await getAgent(ctx.db, t.agent);
  }
  if (!row) throw new TokenRefused('unknown-agent', `agent ${t.agent} does not exist here`);
  if (Number(row.disabled) === 1) throw new TokenRefused('agent-disabled', 'this agent is disabled; ask your supervisor');
  return { agent: t.agent, expiresAt: t.expiresAt };
}

export function noteRefusal(ctx: JwtAgentContext, via: 'rest' | 'mqtt', err: TokenRefused, where: Record<string, unknown>): void {
  ctx.metrics.tokenRefusals.inc({ via, reason: err.reason });
  ctx.log.warn({ via, reason: err.reason, ...where }, 'identity-provider token refused');
}

/** The REST answer for a refused token: 503 when the provider's keys are unreachable, 403 for a disabled agent. */
export function restError(err: TokenRefused): ProtocolError {
  const code = err.reason === 'jwks-unavailable' ? ErrorCode.UNAVAILABLE : err.reason === 'agent-disabled' ? ErrorCode.FORBIDDEN : ErrorCode.UNAUTHORIZED;
  return new ProtocolError(code, err.message, undefined, { reason: err.reason });
}

// setTimeout fires at once for delays beyond 2^31-1 ms (about 24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Closes an MQTT connection when its token expires; the timer goes with the connection. */
export function closeAtExpiry(ctx: JwtAgentContext, client: Client, agent: string, expiresAt: number): void {
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const wait = expiresAt - ctx.now();
    if (wait > MAX_TIMER_MS) {
      timer = setTimeout(arm, MAX_TIMER_MS);
      return;
    }
    timer = setTimeout(
      () => {
        ctx.metrics.tokenRefusals.inc({ via: 'mqtt-live', reason: 'expired' });
        ctx.log.info({ agent, clientId: client.id }, 'identity-provider token expired; connection closed');
        markCloseReason(client, 'kicked');
        client.close();
      },
      Math.max(0, wait),
    );
  };
  arm();
  client.conn.once('close', () => clearTimeout(timer));
}
